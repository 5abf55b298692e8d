package io.procpool.ipc.grpc;

import static io.procpool.ipc.grpc.Fixtures.options;
import static io.procpool.ipc.grpc.Fixtures.utf8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.procpool.api.spi.Connection;
import io.procpool.api.spi.ProtocolException;
import io.procpool.api.spi.TransportOptions;
import io.procpool.testkit.TestCertificates;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(value = 60, unit = TimeUnit.SECONDS)
class GrpcTlsTest {
  @TempDir static Path dir;

  /** A self-signed certificate for 127.0.0.1 and localhost, as PEM files. */
  private static TestCertificates.Pem server;
  /** Another self-signed certificate: a worker trusting it does not trust the server. */
  private static TestCertificates.Pem other;

  @BeforeAll
  static void generateCertificates() throws Exception {
    server = TestCertificates.selfSigned(dir, "server");
    other = TestCertificates.selfSigned(dir, "other");
  }

  private static Map<String, String> serverProps() {
    return Map.of(Tls.CERT_CHAIN, server.cert().toString(), Tls.PRIVATE_KEY, server.key().toString());
  }

  @Test
  void roundTripOverTls() throws Exception {
    try (Fixtures.Server s = new Fixtures.Server(options(1 << 20, serverProps()))) {
      Connection client = new GrpcTransportProvider().connect(s.server.address(),
          options(1 << 20, Map.of(Tls.TRUST_CERTS, server.cert().toString())));
      try {
        roundTrip(s, client);
        assertTrue(client.describe().startsWith("grpc+tls:"), client.describe());
      } finally {
        client.close();
      }
    }
  }

  @Test
  void workerThatDoesNotTrustTheCertificateCannotConnect() throws Exception {
    try (Fixtures.Server s = new Fixtures.Server(options(1 << 20, serverProps()))) {
      IOException e = assertThrows(IOException.class, () -> new GrpcTransportProvider().connect(
          s.server.address(), options(1 << 20, Map.of(Tls.TRUST_CERTS, other.cert().toString()))));
      assertFalse(e instanceof ProtocolException);
      assertTrue(e.getMessage().contains("TLS handshake failed"), e.getMessage());
      System.out.println("grpc: untrusted server certificate -> " + e.getMessage());
      assertEquals(0, s.acceptCount.get());
    }
  }

  @Test
  void plaintextWorkerCannotTalkToATlsServer() throws Exception {
    try (Fixtures.Server s = new Fixtures.Server(options(1 << 20, serverProps()))) {
      assertThrows(IOException.class, () -> new GrpcTransportProvider().connect(s.server.address(), options()));
      assertEquals(0, s.acceptCount.get());
    }
  }

  @Test
  void mutualTls() throws Exception {
    Map<String, String> serverProps = Map.of(Tls.CERT_CHAIN, server.cert().toString(),
        Tls.PRIVATE_KEY, server.key().toString(), Tls.CLIENT_TRUST_CERTS, other.cert().toString());
    try (Fixtures.Server s = new Fixtures.Server(options(1 << 20, serverProps))) {
      // Without a client certificate the server refuses the handshake.
      assertThrows(IOException.class, () -> new GrpcTransportProvider().connect(
          s.server.address(), options(1 << 20, Map.of(Tls.TRUST_CERTS, server.cert().toString()))));
      Connection client = new GrpcTransportProvider().connect(s.server.address(), options(1 << 20, Map.of(
          Tls.TRUST_CERTS, server.cert().toString(),
          Tls.CLIENT_CERT_CHAIN, other.cert().toString(),
          Tls.CLIENT_PRIVATE_KEY, other.key().toString())));
      try {
        roundTrip(s, client);
      } finally {
        client.close();
      }
    }
  }

  @Test
  void incompleteTlsSettingsAreRejectedAtOnce() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new Fixtures.Server(
        options(1 << 20, Map.of(Tls.CERT_CHAIN, server.cert().toString()))));
    assertTrue(e.getMessage().contains(Tls.PRIVATE_KEY), e.getMessage());
  }

  @Test
  void aServersClientPropertiesAloneLetALocalClientTrustIt() throws Exception {
    try (Fixtures.Server s = new Fixtures.Server(options(1 << 20, serverProps()))) {
      Map<String, String> forClients = s.server.clientProperties();
      assertEquals(Map.of(Tls.TRUST_CERTS, server.cert().toAbsolutePath().toString()), forClients);
      Connection client = new GrpcTransportProvider().connect(s.server.address(), options(1 << 20, forClients));
      try {
        roundTrip(s, client);
      } finally {
        client.close();
      }
    }
    try (Fixtures.Server plain = new Fixtures.Server(options())) {
      assertEquals(Map.of(), plain.server.clientProperties());
    }
  }

  @Test
  void plaintextOffLoopbackIsRefusedNamingAllowPlaintext() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new GrpcTransportProvider()
        .listen(new TransportOptions(Fixtures.KEY, 1 << 20, "0.0.0.0:0", Map.of()), c -> {}));
    assertTrue(e.getMessage().contains("\"allowPlaintext\"=\"true\""), e.getMessage());
    assertTrue(e.getMessage().contains(Tls.CERT_CHAIN), e.getMessage());
    System.out.println("grpc: plaintext off loopback -> " + e.getMessage());
  }

  @Test
  void plaintextOffLoopbackIsAllowedWithTheProperty() throws Exception {
    try (Fixtures.Server s = new Fixtures.Server(new TransportOptions(Fixtures.KEY, 1 << 20, "0.0.0.0:0",
        Map.of(TransportOptions.ALLOW_PLAINTEXT, "true")))) {
      String port = s.server.address().substring(s.server.address().lastIndexOf(':') + 1);
      Connection client = new GrpcTransportProvider().connect("127.0.0.1:" + port, options());
      try {
        roundTrip(s, client);
      } finally {
        client.close();
      }
    }
  }

  @Test
  void tlsOffLoopbackNeedsNoPermission() throws Exception {
    try (Fixtures.Server s = new Fixtures.Server(new TransportOptions(Fixtures.KEY, 1 << 20, "0.0.0.0:0",
        serverProps()))) {
      String port = s.server.address().substring(s.server.address().lastIndexOf(':') + 1);
      Connection client = new GrpcTransportProvider().connect("127.0.0.1:" + port,
          options(1 << 20, Map.of(Tls.TRUST_CERTS, server.cert().toString())));
      try {
        roundTrip(s, client);
      } finally {
        client.close();
      }
    }
  }

  private static void roundTrip(Fixtures.Server s, Connection client) throws Exception {
    Connection parent = s.next();
    Fixtures.Recorder atParent = new Fixtures.Recorder();
    Fixtures.Recorder atWorker = new Fixtures.Recorder();
    parent.start(atParent);
    client.start(atWorker);
    List<String> sent = new ArrayList<>(List.of("hello", "over", "tls"));
    for (String m : sent) {
      client.write(utf8(m));
    }
    client.flush();
    for (String m : sent) {
      assertEquals(m, utf8(atParent.take()));
    }
    parent.write(utf8("back"));
    parent.flush();
    assertEquals("back", utf8(atWorker.take()));
  }
}
