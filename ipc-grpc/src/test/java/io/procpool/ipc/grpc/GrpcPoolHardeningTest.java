package io.procpool.ipc.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.procpool.api.AsyncResult;
import io.procpool.api.ProcessPool;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Issue 10 point 7 at the pool level: a submit from an interrupted thread is sent over gRPC. */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class GrpcPoolHardeningTest {

  @Test
  void aSubmitFromAnInterruptedThreadCompletes() throws Exception {
    try (ProcessPool pool = ProcessPool.builder().transport("grpc").processes(1).build()) {
      assertEquals(1, pool.apply(() -> 1)); // the worker is up
      Thread.currentThread().interrupt();
      AsyncResult<Integer> r;
      try {
        r = pool.applyAsync(x -> x + 100, 1);
        assertTrue(Thread.currentThread().isInterrupted(), "the interrupt flag was cleared");
      } finally {
        Thread.interrupted();
      }
      assertEquals(101, r.get(60, TimeUnit.SECONDS));
    }
  }
}
