package io.procpool.ipc.grpc;

import com.google.protobuf.CodedOutputStream;
import io.grpc.Metadata;
import io.grpc.Status;
import io.procpool.api.spi.ProtocolException;
import java.io.IOException;
import java.net.InetSocketAddress;
import javax.net.ssl.SSLException;

/** Constants and helpers of the wire protocol shared by both ends. */
final class Wire {
  private Wire() {}

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

  /** What gRPC adds around our payload at most: per-entry tag and length, plus some slack. */
  static final int FRAMING_SLACK = 64;

  /** The largest batch we aim for; a single larger message still travels alone. */
  static final int BATCH_TARGET_BYTES = 256 * 1024;

  /** How many inbound batches gRPC may deserialize ahead of the listener. */
  static final int INBOUND_WINDOW = 2;

  /** The gRPC inbound message size limit for a given maxFrameSize: one message plus its framing. */
  static int grpcMessageLimit(int maxFrameSize) {
    return (int) Math.min(Integer.MAX_VALUE, (long) maxFrameSize + FRAMING_SLACK);
  }

  /** The encoded size of one message inside a {@code Frames} batch (tag, length, bytes). */
  static int encodedEntrySize(int length) {
    return 1 + CodedOutputStream.computeUInt32SizeNoTag(length) + length;
  }

  static ProtocolException tooLarge(int maxFrameSize) {
    return new ProtocolException("grpc: message larger than maxFrameSize " + maxFrameSize);
  }

  /** {@code host:port} into an unresolved socket address; accepts {@code [v6]:port}. */
  static InetSocketAddress parseAddress(String address) {
    int colon = address.lastIndexOf(':');
    if (colon <= 0 || colon == address.length() - 1) {
      throw new IllegalArgumentException("grpc: address must be host:port, got '" + address + "'");
    }
    String host = address.substring(0, colon);
    if (host.startsWith("[") && host.endsWith("]")) {
      host = host.substring(1, host.length() - 1);
    }
    int port;
    try {
      port = Integer.parseInt(address.substring(colon + 1));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("grpc: bad port in address '" + address + "'", e);
    }
    if (port < 0 || port > 65535) {
      throw new IllegalArgumentException("grpc: port out of range in address '" + address + "'");
    }
    return InetSocketAddress.createUnresolved(host, port);
  }

  static String formatAddress(String host, int port) {
    return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
  }

  /**
   * Maps the status that ended an established stream to the cause the listener sees: {@code null}
   * for a clean end, a {@link ProtocolException} for a size violation, an {@link IOException}
   * otherwise.
   */
  static IOException causeOf(Status status, int maxFrameSize, String peer) {
    if (status.isOk()) {
      return null;
    }
    if (isSizeViolation(status)) {
      return new ProtocolException(
          "grpc: message larger than maxFrameSize " + maxFrameSize + " (" + status.getDescription() + ")",
          status.asException());
    }
    return new IOException("grpc: connection to " + peer + " failed: " + describe(status), status.asException());
  }

  static boolean isSizeViolation(Status status) {
    String d = status.getDescription();
    return status.getCode() == Status.Code.RESOURCE_EXHAUSTED && d != null && d.contains("exceeds maximum size");
  }

  /** A one-line account of a status, naming a TLS failure and its root cause when there is one. */
  static String describe(Status status) {
    StringBuilder sb = new StringBuilder(status.getCode().toString());
    String d = status.getDescription();
    if (d != null) {
      int nl = d.indexOf('\n');
      sb.append(": ").append(nl >= 0 ? d.substring(0, nl) : d);
    }
    Throwable root = null;
    boolean tls = false;
    for (Throwable t = status.getCause(); t != null && t != root; t = t.getCause()) {
      tls |= t instanceof SSLException;
      root = t;
    }
    if (root != null) {
      sb.append(tls ? " (TLS handshake failed: " : " (").append(root.getClass().getSimpleName());
      if (root.getMessage() != null) {
        sb.append(": ").append(root.getMessage());
      }
      sb.append(tls ? "; check grpc.tls.trustCerts and the server's certificate)" : ")");
    }
    return sb.toString();
  }

}
