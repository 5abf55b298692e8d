package io.procpool.api.spi;

import java.io.IOException;

/**
 * A peer broke the wire protocol: a frame larger than the maximum size, a malformed or truncated
 * frame, a wrong magic number or protocol version, or a failed authentication. The connection it
 * happened on is closed; other connections are not affected.
 */
public class ProtocolException extends IOException {
  private static final long serialVersionUID = 1L;

  public ProtocolException(String message) {
    super(message);
  }

  public ProtocolException(String message, Throwable cause) {
    super(message, cause);
  }
}
