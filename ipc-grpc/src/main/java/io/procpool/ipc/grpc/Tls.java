package io.procpool.ipc.grpc;

import io.grpc.ChannelCredentials;
import io.grpc.InsecureChannelCredentials;
import io.grpc.InsecureServerCredentials;
import io.grpc.ServerCredentials;
import io.grpc.TlsChannelCredentials;
import io.grpc.TlsServerCredentials;
import java.io.File;
import java.io.IOException;
import java.util.Map;

/** Turns the {@code grpc.tls.*} transport properties into gRPC credentials; plaintext without them. */
final class Tls {
  private Tls() {}

  static final String CERT_CHAIN = "grpc.tls.certChain";
  static final String PRIVATE_KEY = "grpc.tls.privateKey";
  static final String CLIENT_TRUST_CERTS = "grpc.tls.clientTrustCerts";
  static final String TRUST_CERTS = "grpc.tls.trustCerts";
  static final String CLIENT_CERT_CHAIN = "grpc.tls.clientCertChain";
  static final String CLIENT_PRIVATE_KEY = "grpc.tls.clientPrivateKey";
  static final String ENABLED = "grpc.tls.enabled";
  static final String AUTHORITY = "grpc.tls.authority";

  static boolean serverTls(Map<String, String> p) {
    return p.containsKey(CERT_CHAIN) || p.containsKey(PRIVATE_KEY);
  }

  static boolean clientTls(Map<String, String> p) {
    return p.containsKey(TRUST_CERTS) || p.containsKey(CLIENT_CERT_CHAIN) || p.containsKey(CLIENT_PRIVATE_KEY)
        || Boolean.parseBoolean(p.get(ENABLED));
  }

  static ServerCredentials serverCredentials(Map<String, String> p) throws IOException {
    if (!serverTls(p)) {
      if (p.containsKey(CLIENT_TRUST_CERTS)) {
        throw new IllegalArgumentException(CLIENT_TRUST_CERTS + " needs " + CERT_CHAIN + " and " + PRIVATE_KEY);
      }
      return InsecureServerCredentials.create();
    }
    TlsServerCredentials.Builder b = TlsServerCredentials.newBuilder()
        .keyManager(file(p, CERT_CHAIN, PRIVATE_KEY), file(p, PRIVATE_KEY, CERT_CHAIN));
    if (p.containsKey(CLIENT_TRUST_CERTS)) {
      b.trustManager(file(p, CLIENT_TRUST_CERTS, null)).clientAuth(TlsServerCredentials.ClientAuth.REQUIRE);
    }
    return b.build();
  }

  static ChannelCredentials channelCredentials(Map<String, String> p) throws IOException {
    if (!clientTls(p)) {
      return InsecureChannelCredentials.create();
    }
    TlsChannelCredentials.Builder b = TlsChannelCredentials.newBuilder();
    if (p.containsKey(TRUST_CERTS)) {
      b.trustManager(file(p, TRUST_CERTS, null)); // otherwise the JDK's default trust store
    }
    if (p.containsKey(CLIENT_CERT_CHAIN) || p.containsKey(CLIENT_PRIVATE_KEY)) {
      b.keyManager(file(p, CLIENT_CERT_CHAIN, CLIENT_PRIVATE_KEY), file(p, CLIENT_PRIVATE_KEY, CLIENT_CERT_CHAIN));
    }
    return b.build();
  }

  private static File file(Map<String, String> p, String key, String partner) {
    String path = p.get(key);
    if (path == null) {
      throw new IllegalArgumentException("grpc: " + key + " must be set together with " + partner);
    }
    File f = new File(path);
    if (!f.isFile()) {
      throw new IllegalArgumentException("grpc: " + key + " names no readable file: " + path);
    }
    return f;
  }

  /**
   * What a client on this host needs from a server's properties: the client-side TLS settings given
   * (trust, client certificate, authority) and, when the server has a certificate and no trust was
   * given, trust in that certificate. Never the server's own private key or its client trust.
   */
  static Map<String, String> clientSide(Map<String, String> serverProperties) {
    Map<String, String> out = new java.util.LinkedHashMap<>();
    for (String k : new String[] {TRUST_CERTS, CLIENT_CERT_CHAIN, CLIENT_PRIVATE_KEY, ENABLED, AUTHORITY}) {
      String v = serverProperties.get(k);
      if (v != null) {
        out.put(k, v);
      }
    }
    String chain = serverProperties.get(CERT_CHAIN);
    if (chain != null && !out.containsKey(TRUST_CERTS)) {
      out.put(TRUST_CERTS, new java.io.File(chain).getAbsolutePath());
    }
    return Map.copyOf(out);
  }
}
