package io.procpool.ipc.grpc;

import io.grpc.Status;
import io.procpool.api.spi.ProtocolException;
import java.io.IOException;
import javax.net.ssl.SSLException;

/** What the gRPC status that ended a stream means to the pool: a cause, and a one-line account. */
final class Statuses {
  private Statuses() {}

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
