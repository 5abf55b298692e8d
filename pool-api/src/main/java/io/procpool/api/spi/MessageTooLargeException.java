package io.procpool.api.spi;

/**
 * A message handed to {@link Connection#write} is larger than the connection's
 * {@link TransportOptions#maxFrameSize()}. Nothing was queued and the connection stays open: only
 * this one message is refused. Callers normally check sizes before writing and report the problem
 * to the user in their own terms; this exception is the transport's last guard.
 */
public class MessageTooLargeException extends IllegalArgumentException {
  private static final long serialVersionUID = 1L;

  private final long size;
  private final int limit;

  /**
   * @param size the size of the refused message, in bytes
   * @param limit the connection's maximum message size, in bytes
   * @param where the connection, as {@link Connection#describe()} gives it
   */
  public MessageTooLargeException(long size, int limit, String where) {
    super("message of " + size + " bytes exceeds maxFrameSize " + limit + " (" + where + ")");
    this.size = size;
    this.limit = limit;
  }

  /** The size of the refused message, in bytes. */
  public long size() {
    return size;
  }

  /** The connection's maximum message size, in bytes. */
  public int limit() {
    return limit;
  }
}
