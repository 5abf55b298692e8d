package io.procpool.ipc.grpc;

import io.grpc.Metadata;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * The transport's mutual authentication (see {@code procpool_transport.proto}): a challenge–response
 * in which the auth key itself never crosses the wire and each side proves it knows the key.
 *
 * <ol>
 *   <li>The client opens the stream with headers carrying its protocol version and a fresh random
 *       nonce {@code Nc}.
 *   <li>The server checks the version, answers with response headers carrying its version, its own
 *       nonce {@code Ns} and {@code HMAC-SHA256(key, "procpool-grpc-v2 server" || Nc || Ns)}.
 *   <li>The client verifies that proof before it sends anything else: an endpoint that does not know
 *       the key (a spoofed server on a reused port) is refused there and has received only a nonce.
 *       Then it sends {@code HMAC-SHA256(key, "procpool-grpc-v2 client" || Nc || Ns)} as the only
 *       entry of its first {@code Frames} message.
 *   <li>The server compares it in constant time; only then does it send the acceptance ack (an empty
 *       {@code Frames}) and hand the stream to the pool as a connection.
 * </ol>
 *
 * <p>Fresh nonces on both sides make every proof single-use; the role labels keep a proof from being
 * reflected back. The cost is two HMACs per connection, none per message. Without TLS, the handshake
 * does not stop an active relay between two honest ends (that is TLS's job); it keeps the key off the
 * wire and keeps a worker from trusting an endpoint that cannot prove the key.
 */
final class Handshake {
  private Handshake() {}

  /** The protocol version both ends must speak; bump it on any incompatible change. */
  static final String PROTOCOL_VERSION = "2";

  /** The protocol version, sent by the client in its headers and by the server in its response headers. */
  static final Metadata.Key<String> VERSION_KEY =
      Metadata.Key.of("procpool-version", Metadata.ASCII_STRING_MARSHALLER);

  /** The client's nonce, in its headers. */
  static final Metadata.Key<byte[]> CLIENT_NONCE =
      Metadata.Key.of("procpool-client-nonce-bin", Metadata.BINARY_BYTE_MARSHALLER);

  /** The server's nonce, in its response headers. */
  static final Metadata.Key<byte[]> SERVER_NONCE =
      Metadata.Key.of("procpool-server-nonce-bin", Metadata.BINARY_BYTE_MARSHALLER);

  /** The server's proof that it knows the key, in its response headers. */
  static final Metadata.Key<byte[]> SERVER_PROOF =
      Metadata.Key.of("procpool-server-proof-bin", Metadata.BINARY_BYTE_MARSHALLER);

  static final int NONCE_BYTES = 32;

  static final String BAD_KEY_MESSAGE = "procpool: the auth key did not match the server's key (a pool's or a manager's)";
  static final String MISSING_KEY_MESSAGE = "procpool: no auth proof was sent; the pool requires its auth key";
  static final String MISSING_NONCE_MESSAGE = "procpool: no " + NONCE_BYTES + "-byte client nonce in the headers";

  static final String CLIENT = "client";
  static final String SERVER = "server";

  private static final SecureRandom RANDOM = new SecureRandom();

  static byte[] nonce() {
    byte[] n = new byte[NONCE_BYTES];
    RANDOM.nextBytes(n);
    return n;
  }

  /** {@code HMAC-SHA256(key, "procpool-grpc-v2 " + role || clientNonce || serverNonce)}. */
  static byte[] proof(byte[] key, String role, byte[] clientNonce, byte[] serverNonce) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(key, "HmacSHA256"));
      mac.update(("procpool-grpc-v" + PROTOCOL_VERSION + " " + role).getBytes(StandardCharsets.US_ASCII));
      mac.update(clientNonce);
      mac.update(serverNonce);
      return mac.doFinal();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("HmacSHA256 is not available in this JVM", e);
    }
  }
}
