package io.procpool.ipc.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.procpool.api.ProcessPool;
import io.procpool.api.spi.TransportOptions;
import io.procpool.testkit.TestCertificates;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 13 and issue 10 point 10 at the pool level: a TLS pool starts its own workers (they trust its
 * certificate without settings), and a pool refuses plaintext off loopback unless allowed.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class GrpcTlsPoolTest {
  @TempDir static Path dir;
  private static TestCertificates.Pem cert;

  @BeforeAll
  static void generate() throws Exception {
    cert = TestCertificates.selfSigned(dir, "pool");
  }

  @Test
  void aTlsPoolStartsItsOwnWorkersAndRunsApplyAndMap() {
    try (ProcessPool pool = ProcessPool.builder()
        .transport("grpc")
        .processes(2)
        .transportProperty("grpc.tls.certChain", cert.cert().toString())
        .transportProperty("grpc.tls.privateKey", cert.key().toString())
        .build()) {
      assertEquals(42, pool.apply(() -> 42));
      assertEquals(List.of(1, 4, 9, 16), pool.map(x -> x * x, List.of(1, 2, 3, 4)));
    }
  }

  @Test
  void aPoolRefusesPlaintextOffLoopback() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ProcessPool.builder()
        .transport("grpc").processes(1).listenAddress("0.0.0.0:0").build().close());
    assertTrue(e.getMessage().contains(TransportOptions.ALLOW_PLAINTEXT), e.getMessage());
  }

  @Test
  void aPoolMayListenOffLoopbackInPlaintextWhenAllowed() {
    try (ProcessPool pool = ProcessPool.builder()
        .transport("grpc")
        .processes(1)
        .listenAddress("0.0.0.0:0")
        .transportProperty(TransportOptions.ALLOW_PLAINTEXT, "true")
        .build()) {
      assertEquals(7, pool.apply(() -> 7));
    }
  }
}
