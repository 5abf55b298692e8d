package io.procpool.ipc.grpc;

import io.grpc.Metadata;

/**
 * The handshake of a stream (see {@code procpool_transport.proto}): the headers that carry the
 * client's auth key and both ends' protocol version, and the refusals of a missing or wrong key.
 */
final class Handshake {
  private Handshake() {}

  /** The protocol version both ends must speak; bump it on any incompatible change. */
  static final String PROTOCOL_VERSION = "1";

  /** The client's auth key (binary header, so any bytes travel unchanged). */
  static final Metadata.Key<byte[]> AUTH_KEY =
      Metadata.Key.of("procpool-auth-bin", Metadata.BINARY_BYTE_MARSHALLER);

  /** The protocol version, sent by the client in its headers and by the server in its response headers. */
  static final Metadata.Key<String> VERSION_KEY =
      Metadata.Key.of("procpool-version", Metadata.ASCII_STRING_MARSHALLER);

  static final String BAD_KEY_MESSAGE = "procpool: the auth key did not match the pool's key";
  static final String MISSING_KEY_MESSAGE = "procpool: no auth key was sent; the pool requires its auth key";
}
