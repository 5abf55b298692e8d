package io.procpool.testkit;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.Key;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.util.Base64;
import java.util.concurrent.TimeUnit;

/**
 * Self-signed certificates for TLS tests, made with the JDK's {@code keytool} and written as PEM
 * files (certificate chain, PKCS#8 private key), the form the {@code grpc.tls.*} transport properties
 * take.
 */
public final class TestCertificates {
  private TestCertificates() {}

  /** A PEM certificate chain and its PKCS#8 private key. */
  public record Pem(Path cert, Path key) {}

  /**
   * Makes a self-signed RSA certificate valid for {@code 127.0.0.1} and {@code localhost}.
   *
   * @param dir where the files go
   * @param name a file-name stem and the certificate's common name
   */
  public static Pem selfSigned(Path dir, String name) throws IOException, InterruptedException,
      GeneralSecurityException {
    return selfSigned(dir, name, "ip:127.0.0.1,dns:localhost");
  }

  /**
   * Makes a self-signed RSA certificate valid for the given subject alternative names.
   *
   * @param dir where the files go
   * @param name a file-name stem and the certificate's common name
   * @param subjectAlternativeNames in keytool's syntax, e.g. {@code "ip:10.77.0.1"} or
   *     {@code "ip:127.0.0.1,dns:localhost"}
   */
  public static Pem selfSigned(Path dir, String name, String subjectAlternativeNames) throws IOException,
      InterruptedException, GeneralSecurityException {
    Path store = dir.resolve(name + ".p12");
    char[] password = "changeit".toCharArray();
    String keytool = Path.of(System.getProperty("java.home"), "bin", "keytool").toString();
    Process p = new ProcessBuilder(keytool, "-genkeypair", "-alias", name, "-keyalg", "RSA", "-keysize", "2048",
        "-dname", "CN=procpool-test-" + name, "-ext", "SAN=" + subjectAlternativeNames, "-validity", "2",
        "-storetype", "PKCS12", "-keystore", store.toString(), "-storepass", "changeit", "-keypass", "changeit")
        .redirectErrorStream(true)
        .start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(30, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new IOException("keytool did not finish within 30 s");
    }
    if (p.exitValue() != 0) {
      throw new IOException("keytool failed: " + out);
    }
    KeyStore ks = KeyStore.getInstance("PKCS12");
    try (InputStream in = Files.newInputStream(store)) {
      ks.load(in, password);
    }
    Certificate[] chain = ks.getCertificateChain(name);
    Key key = ks.getKey(name, password);
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
}
