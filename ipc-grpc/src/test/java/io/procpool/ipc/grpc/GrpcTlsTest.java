package io.procpool.ipc.grpc;

import static io.procpool.ipc.grpc.Fixtures.options;
import static io.procpool.ipc.grpc.Fixtures.utf8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.procpool.api.spi.Connection;
import io.procpool.api.spi.ProtocolException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.Key;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.util.ArrayList;
import java.util.Base64;
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
  private static Pem server;
  /** Another self-signed certificate: a worker trusting it does not trust the server. */
  private static Pem other;

  private record Pem(Path cert, Path key) {}

  @BeforeAll
  static void generateCertificates() throws Exception {
    server = selfSigned("server");
    other = selfSigned("other");
  }

  private static Pem selfSigned(String name) throws Exception {
    Path store = dir.resolve(name + ".p12");
    char[] password = "changeit".toCharArray();
    String keytool = Path.of(System.getProperty("java.home"), "bin", "keytool").toString();
    Process p = new ProcessBuilder(keytool, "-genkeypair", "-alias", name, "-keyalg", "RSA", "-keysize", "2048",
        "-dname", "CN=procpool-test-" + name, "-ext", "SAN=ip:127.0.0.1,dns:localhost", "-validity", "2",
        "-storetype", "PKCS12", "-keystore", store.toString(), "-storepass", "changeit", "-keypass", "changeit")
        .redirectErrorStream(true)
        .start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(30, TimeUnit.SECONDS), "keytool did not finish");
    assertEquals(0, p.exitValue(), "keytool failed: " + out);
    KeyStore ks = KeyStore.getInstance("PKCS12");
    try (InputStream in = Files.newInputStream(store)) {
      ks.load(in, password);
    }
    Certificate[] chain = ks.getCertificateChain(name);
    Key key = ks.getKey(name, password);
    assertEquals("PKCS#8", key.getFormat());
    StringBuilder certs = new StringBuilder();
    for (Certificate c : chain) {
      certs.append(pem("CERTIFICATE", c.getEncoded()));
    }
    Path cert = Files.writeString(dir.resolve(name + "-cert.pem"), certs);
    Path keyFile = Files.writeString(dir.resolve(name + "-key.pem"), pem("PRIVATE KEY", key.getEncoded()));
    return new Pem(cert, keyFile);
  }

  private static String pem(String type, byte[] der) {
    return "-----BEGIN " + type + "-----\n"
        + Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(der)
        + "\n-----END " + type + "-----\n";
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
