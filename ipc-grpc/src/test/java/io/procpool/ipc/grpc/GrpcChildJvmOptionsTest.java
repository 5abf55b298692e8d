package io.procpool.ipc.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.procpool.api.ProcessPool;
import io.procpool.testkit.NoLeakedProcessesExtension;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/** gRPC's options for child JVMs reach the workers, and the user's jvmOptions win over them. */
@ExtendWith(NoLeakedProcessesExtension.class)
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class GrpcChildJvmOptionsTest {

  @Test
  void workersStartWithNettyJfrOffUnlessTheUserTurnsItOn() {
    try (ProcessPool pool = ProcessPool.builder().transport("grpc").processes(1).build()) {
      assertEquals("false", pool.apply(() -> System.getProperty(GrpcTransportProvider.NETTY_JFR)));
    }
    try (ProcessPool pool = ProcessPool.builder().transport("grpc").processes(1)
        .jvmOptions("-D" + GrpcTransportProvider.NETTY_JFR + "=true").build()) {
      assertEquals("true", pool.apply(() -> System.getProperty(GrpcTransportProvider.NETTY_JFR)));
    }
  }
}
