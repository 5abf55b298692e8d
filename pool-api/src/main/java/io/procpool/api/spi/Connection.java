package io.procpool.api.spi;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * An authenticated, ordered, message-oriented channel between the parent and one worker, as a
 * transport provides it. Message boundaries are preserved; the transport may send several queued
 * messages in one write (batching) but never splits or merges them as the reader sees them.
 *
 * <p>Authentication is mutual: the accepting side only hands over connections whose peer proved the
 * key, and the connecting side only returns from {@link TransportProvider#connect} once the server
 * proved it too, before any message is exchanged.
 *
 * <p>Interrupts: a thread whose interrupt flag is set, or that is interrupted while it writes or
 * flushes, does not break the connection. The write completes (or the message stays queued for the
 * next flush) and the flag is left set for the caller to act on.
 *
 * <p>Listener failures: if a listener method throws (an {@link Error} included), the transport closes
 * the connection and reports the throwable as the cause to {@link Listener#onClosed}; the delivery
 * thread survives and the connection never wedges.
 *
 * <p>Thread-safety: {@link #write} and {@link #flush} may be called from any thread, concurrently;
 * messages are sent in the order their {@code write} calls returned. Listener methods are called from
 * one thread at a time, in order.
 *
 * <p>Call order: {@link #start} once, then any number of writes and flushes, then {@link #close}.
 * {@link Listener#onClosed} fires exactly once, whether the peer went away, a protocol error occurred,
 * or {@link #close} was called.
 */
public interface Connection {

  /**
   * Starts delivering inbound messages to {@code listener}. Called once, before any message is
   * delivered.
   */
  void start(Listener listener);

  /**
   * Queues one message. The buffer's remaining bytes are the message; ownership passes to the
   * connection, so the caller must not modify the buffer afterwards. Does not block. A write on a
   * closed connection is dropped (the listener has been or will be told).
   *
   * @throws MessageTooLargeException if the message is larger than the maximum frame size; nothing is
   *     queued and the connection stays open
   */
  void write(ByteBuffer message);

  /**
   * Sends every message queued so far, by this thread or by another one already sending. May block
   * while the peer does not read (that is the pool's backpressure).
   *
   * @throws IOException if the connection is broken; the listener's {@code onClosed} fires too
   */
  void flush() throws IOException;

  /** Closes the connection (forceful: queued messages may be dropped). Idempotent. */
  void close();

  /**
   * Closes the connection because the caller found the peer at fault, e.g. a malformed message.
   * Transports that can tell the peer why (gRPC: a status) do so; the default just closes. The local
   * listener's {@link Listener#onClosed} still fires once, as for {@link #close()}.
   */
  default void close(Throwable reason) {
    close();
  }

  /** A short description of the peer for messages and logs, e.g. {@code "unix:/tmp/…/pool.sock"}. */
  String describe();

  /** Receives inbound messages and the end of the connection. */
  interface Listener {

    /**
     * One inbound message. The buffer is valid only during this call (the transport may reuse it);
     * copy what must outlive it.
     */
    void onMessage(ByteBuffer message);

    /**
     * One inbound message in a buffer that now belongs to the listener: the transport allocated it for
     * this message alone and never reads or writes it again, so the listener may keep it (for example
     * queue it for another thread) instead of copying it. Transports call it where they have such a
     * buffer anyway, typically for a message too large for their read buffer; it takes the place of
     * {@link #onMessage} for that message, and everything else said there (order, thread, failures)
     * holds. The default passes the message to {@link #onMessage}.
     */
    default void onOwnedMessage(ByteBuffer message) {
      onMessage(message);
    }

    /**
     * One inbound message in a buffer the transport lends to the listener: as with
     * {@link #onOwnedMessage}, the listener may keep it past this call (for example queue it for
     * another thread), and once it no longer reads the buffer it calls {@code release.run()}, after
     * which the transport may read a later message into the same memory. So after {@code release} the
     * listener must not read the buffer or anything sharing its memory (slices, values decoded as views
     * of it). {@code release} may be called from any thread; calling it again has no effect; never
     * calling it is allowed (the buffer then stays the listener's, and the transport allocates another
     * one for its next such message).
     * Transports call it where they would otherwise call {@link #onOwnedMessage}, and everything said
     * there (order, thread, failures) holds. The default passes the message to {@link #onOwnedMessage}
     * and never releases it.
     *
     * @param message the message, from its position to its limit
     * @param release gives the buffer back to the transport; thread-safe, idempotent
     */
    default void onLentMessage(ByteBuffer message, Runnable release) {
      onOwnedMessage(message);
    }

    /**
     * Called after a run of {@link #onMessage} calls, when no further inbound message is available
     * without blocking: a good moment to flush replies in one batch.
     */
    default void onReadComplete() {}

    /**
     * The connection ended; called exactly once.
     *
     * @param cause {@code null} on a clean end of stream or a local {@link #close()}; otherwise the
     *     failure, a {@link ProtocolException} when the peer broke the protocol
     */
    void onClosed(Throwable cause);
  }
}
