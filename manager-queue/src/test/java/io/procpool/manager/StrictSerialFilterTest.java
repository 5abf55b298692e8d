package io.procpool.manager;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.procpool.api.ManagedQueue;
import io.procpool.api.Manager;
import io.procpool.api.ProcessPool;
import io.procpool.api.TaskSerializationException;
import io.procpool.manager.other.NotListed;
import io.procpool.testkit.NoLeakedProcessesExtension;
import java.time.Duration;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A pool with a strict {@code serialFilter} in the README's style (the application's package, the JDK,
 * nothing else) still passes procpool's own types: a queue proxy reaches a worker, and a worker's
 * refusal of an argument reaches the caller as {@link TaskSerializationException}, not as an
 * undecodable remote error.
 */
@ExtendWith(NoLeakedProcessesExtension.class)
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class StrictSerialFilterTest {
  private static final String PATTERN = "io.procpool.manager.*;java.**;!*";

  static String putFromWorker(ManagedQueue<String> q) {
    q.put("from a strict worker");
    return "ok";
  }

  static int valueOf(NotListed n) {
    return n.value();
  }

  @Test
  void aQueueProxyPassesAStrictPattern() {
    try (Manager manager = Manager.start();
        ProcessPool pool = ProcessPool.builder().processes(1).serialFilter(PATTERN).build()) {
      ManagedQueue<String> q = manager.queue();
      assertEquals("ok", pool.apply(StrictSerialFilterTest::putFromWorker, q));
      assertEquals("from a strict worker", q.get(Duration.ofSeconds(30)));
    }
  }

  @Test
  void aRefusedArgumentIsATaskSerializationExceptionForTheCaller() throws Exception {
    try (ProcessPool pool = ProcessPool.builder().processes(1).serialFilter(PATTERN).build()) {
      TaskSerializationException e = assertThrows(TaskSerializationException.class,
          () -> pool.apply(StrictSerialFilterTest::valueOf, new NotListed(7)));
      assertTrue(e.getMessage().contains(NotListed.class.getName()), e.getMessage());
      ExecutionException async = assertThrows(ExecutionException.class,
          () -> pool.applyAsync(StrictSerialFilterTest::valueOf, new NotListed(8)).get());
      assertTrue(async.getCause() instanceof TaskSerializationException, String.valueOf(async.getCause()));
    }
  }
}
