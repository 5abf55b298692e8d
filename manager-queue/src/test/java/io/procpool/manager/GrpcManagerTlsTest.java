package io.procpool.manager;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.procpool.api.ManagedQueue;
import io.procpool.api.Manager;
import io.procpool.api.ManagerUnreachableException;
import io.procpool.api.ProcessPool;
import io.procpool.api.spi.TransportOptions;
import io.procpool.api.spi.TransportRegistry;
import io.procpool.testkit.TestCertificates;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 10 point 10: {@code Manager.builder().transportProperty} reaches the manager process and its
 * clients, so a manager listens with TLS and the parent and workers trust it without more settings;
 * a manager refuses plaintext off loopback unless allowed.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class GrpcManagerTlsTest {
  @TempDir static Path dir;
  private static TestCertificates.Pem cert;

  @BeforeAll
  static void generate() throws Exception {
    cert = TestCertificates.selfSigned(dir, "manager");
  }

  static String putFromWorker(ManagedQueue<String> q) {
    q.put("from worker " + ProcessHandle.current().pid());
    return "ok";
  }

  @Test
  void aTlsManagerServesTheParentAndWorkers() throws Exception {
    try (Manager manager = Manager.builder()
        .transport("grpc")
        .transportProperty("grpc.tls.certChain", cert.cert().toString())
        .transportProperty("grpc.tls.privateKey", cert.key().toString())
        .build()) {
      ManagedQueue<String> q = manager.queue();
      // A proxy names no server-side key file: it is serialized into task arguments, items, files.
      java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
      try (java.io.ObjectOutputStream out = new java.io.ObjectOutputStream(bytes)) {
        out.writeObject(q);
      }
      String text = bytes.toString(java.nio.charset.StandardCharsets.ISO_8859_1);
      for (String line : text.split("[^A-Za-z0-9+/=]+")) {
        try {
          String decoded = new String(java.util.Base64.getDecoder().decode(line), java.nio.charset.StandardCharsets.UTF_8);
          text += "\n" + decoded;
        } catch (IllegalArgumentException notBase64) {
          // only the property lines are Base64
        }
      }
      assertFalse(text.contains(cert.key().getFileName().toString()), "the proxy carries the private key's path");
      assertFalse(text.contains("grpc.tls.privateKey"), "the proxy carries the server's private key setting");
      assertTrue(text.contains("grpc.tls.trustCerts"), "the proxy carries the trust its readers need");
      q.put("from parent");
      assertEquals("from parent", q.get());
      try (ProcessPool pool = ProcessPool.builder().processes(1).transport("pipes").build()) {
        long pid = pool.workerPids().get(0);
        assertEquals("ok", pool.apply(GrpcManagerTlsTest::putFromWorker, q));
        assertEquals("from worker " + pid, q.get());
      }
      // It really is TLS: a plaintext client cannot even reach the handshake.
      String hostPort = manager.address().substring("grpc:".length());
      IOException e = assertThrows(IOException.class, () -> TransportRegistry.get("grpc")
          .connect(hostPort, new TransportOptions(manager.authKey(), 1 << 20, null, Map.of())).close());
      System.out.println("manager over TLS, plaintext client -> " + e.getMessage());
    }
  }

  /** In a worker JVM (no client cached there): connects by hand, as another application would. */
  static String connectByHand(String address, byte[] key, String trustCerts) {
    Map<String, String> props = trustCerts == null ? Map.of() : Map.of("grpc.tls.trustCerts", trustCerts);
    try (Manager m = Manager.connect(address, key, props)) {
      ManagedQueue<String> q = m.queue("by-hand");
      q.put("hello over TLS");
      return "connected";
    } catch (ManagerUnreachableException e) {
      return "unreachable: " + e.getMessage();
    }
  }

  @Test
  void anotherJvmConnectsToATlsManagerByHandWithTheTrustProperty() throws Exception {
    try (Manager manager = Manager.builder()
        .transport("grpc")
        .transportProperty("grpc.tls.certChain", cert.cert().toString())
        .transportProperty("grpc.tls.privateKey", cert.key().toString())
        .build();
        ProcessPool pool = ProcessPool.builder().processes(1).transport("pipes").build()) {
      String address = manager.address();
      byte[] key = manager.authKey();
      String trust = cert.cert().toString();
      String without = pool.apply(() -> connectByHand(address, key, null));
      assertTrue(without.startsWith("unreachable: "), without);
      assertEquals("connected",
          pool.apply(() -> connectByHand(address, key, trust)));
      assertEquals("hello over TLS", manager.<String>queue("by-hand").get(Duration.ofSeconds(30)));
      // The JVM that started it reaches it again by address and key alone (Python's connect()).
      try (Manager again = Manager.connect(address, key)) {
        again.<String>queue("by-hand").put("again");
        assertEquals("again", manager.<String>queue("by-hand").get(Duration.ofSeconds(30)));
      }
    }
  }

  @Test
  void aManagerRefusesPlaintextOffLoopback() {
    ManagerUnreachableException e = assertThrows(ManagerUnreachableException.class, () -> Manager.builder()
        .transport("grpc").listenAddress("0.0.0.0:0").build().close());
    assertTrue(e.getMessage().contains(TransportOptions.ALLOW_PLAINTEXT), e.getMessage());
  }

  @Test
  void aManagerMayListenOffLoopbackInPlaintextWhenAllowed() throws Exception {
    try (Manager manager = Manager.builder()
        .transport("grpc")
        .listenAddress("0.0.0.0:0")
        .transportProperty(TransportOptions.ALLOW_PLAINTEXT, "true")
        .build()) {
      ManagedQueue<Integer> q = manager.queue();
      q.put(5);
      assertEquals(5, q.get());
    }
  }
}
