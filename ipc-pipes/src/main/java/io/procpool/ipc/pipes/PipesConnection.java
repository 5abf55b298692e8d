package io.procpool.ipc.pipes;

import io.procpool.api.spi.Connection;
import io.procpool.api.spi.ProtocolException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.SocketChannel;
import java.util.Objects;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;

/**
 * An authenticated pipes connection: frames are a 4-byte big-endian length followed by the payload.
 *
 * <p>Reading: one daemon thread per connection reads into a reusable 64 KiB direct buffer and hands
 * each complete frame to the listener as a slice. Every listener call, {@code onClosed} included,
 * happens on that thread, so the listener is never called concurrently.
 *
 * <p>Writing: {@link #write} only enqueues on a lock-free queue. {@link #flush} is write-combining:
 * the first thread to win a CAS becomes the writer and drains the queue for everyone, copying small
 * messages (with their headers) into one reusable direct staging buffer and passing large ones by
 * reference, in gathering writes of many messages per system call.
 */
final class PipesConnection implements Connection {
  static final int READ_BUFFER_SIZE = 64 * 1024;
  static final int STAGING_SIZE = 256 * 1024;
  /** Messages up to this size are copied into the staging buffer; larger ones are written in place. */
  static final int COPY_THRESHOLD = 16 * 1024;
  static final int MAX_BATCH_BUFFERS = 256;
  static final long MAX_BATCH_BYTES = 4L * 1024 * 1024;
  /** Large frames are read in chunks of this size (bounds the JDK's temporary direct buffers). */
  private static final int LARGE_READ_CHUNK = 1024 * 1024;

  private static final AtomicInteger READER_IDS = new AtomicInteger();
  /** Close reason meaning "clean": a local close or an EOF at a frame boundary. */
  private static final Throwable CLEAN = new Throwable("clean close", null, false, false) {};

  private final SocketChannel channel;
  private final int maxFrameSize;
  private final String description;
  private final Consumer<PipesConnection> onTerminated;

  private final ConcurrentLinkedQueue<ByteBuffer> queue = new ConcurrentLinkedQueue<>();
  private final AtomicBoolean writing = new AtomicBoolean();
  private final AtomicReference<Throwable> closeReason = new AtomicReference<>();
  private final AtomicBoolean started = new AtomicBoolean();
  private final AtomicBoolean closedFired = new AtomicBoolean();
  private volatile Thread reader;

  // Writer state: touched only by the thread holding the `writing` flag.
  private ByteBuffer staging;
  private final ByteBuffer[] batch = new ByteBuffer[MAX_BATCH_BUFFERS];
  private ByteBuffer carry;

  PipesConnection(SocketChannel channel, int maxFrameSize, String description,
      Consumer<PipesConnection> onTerminated) {
    this.channel = channel;
    this.maxFrameSize = maxFrameSize;
    this.description = description;
    this.onTerminated = onTerminated;
  }

  @Override
  public void start(Listener listener) {
    Objects.requireNonNull(listener, "listener");
    if (!started.compareAndSet(false, true)) {
      throw new IllegalStateException("pipes: start() called twice on " + description);
    }
    Thread t = new Thread(() -> readLoop(listener), "procpool-pipes-reader-" + READER_IDS.incrementAndGet());
    t.setDaemon(true);
    reader = t;
    t.start();
  }

  /** The reader thread, once started; for tests. */
  Thread readerThread() {
    return reader;
  }

  @Override
  public void write(ByteBuffer message) {
    if (closeReason.get() != null) {
      return;
    }
    int size = message.remaining();
    if (size > maxFrameSize) {
      throw new IllegalArgumentException("pipes: message of " + size + " bytes exceeds maxFrameSize "
          + maxFrameSize + " (to " + description + ")");
    }
    queue.offer(message);
    if (closeReason.get() != null) {
      queue.clear(); // closed meanwhile: do not keep the message alive
    }
  }

  @Override
  public void flush() throws IOException {
    while (!queue.isEmpty()) {
      if (!writing.compareAndSet(false, true)) {
        return; // the current writer re-checks the queue after releasing the flag: it sends ours
      }
      // SocketChannel is interruptible: a write by a thread whose interrupt flag is set would close
      // the connection. Callers' interrupts are not meant for us: hold the flag aside while writing.
      boolean interrupted = Thread.interrupted();
      try {
        drain();
      } catch (IOException e) {
        throw fail(e);
      } finally {
        writing.set(false);
        if (interrupted) {
          Thread.currentThread().interrupt();
        }
      }
    }
    Throwable reason = closeReason.get();
    if (reason != null && reason != CLEAN) {
      queue.clear();
      throw new IOException("pipes: connection to " + description + " is broken", reason);
    }
  }

  /** Writes queued messages until the queue is empty. Holds the `writing` flag. */
  private void drain() throws IOException {
    if (closeReason.get() != null) {
      queue.clear();
      Throwable reason = closeReason.get();
      if (reason == CLEAN) {
        return;
      }
      throw new IOException("pipes: connection to " + description + " is broken", reason);
    }
    if (staging == null) {
      staging = ByteBuffer.allocateDirect(STAGING_SIZE);
    }
    while (true) {
      int n = fillBatch();
      if (n == 0) {
        return;
      }
      try {
        int offset = 0;
        while (offset < n) {
          channel.write(batch, offset, n - offset);
          while (offset < n && !batch[offset].hasRemaining()) {
            offset++;
          }
        }
      } finally {
        java.util.Arrays.fill(batch, 0, n, null);
      }
    }
  }

  /** Moves queued messages into {@link #batch}; returns the number of buffers in it. */
  private int fillBatch() {
    ByteBuffer st = staging;
    st.clear();
    int regionStart = 0;
    int n = 0;
    long referenced = 0;
    while (n < MAX_BATCH_BUFFERS - 3 && referenced < MAX_BATCH_BYTES) {
      ByteBuffer m = carry;
      if (m != null) {
        carry = null;
      } else {
        m = queue.poll();
        if (m == null) {
          break;
        }
      }
      int len = m.remaining();
      if (len <= COPY_THRESHOLD) {
        if (st.remaining() < 4 + len) {
          carry = m;
          break;
        }
        int p = st.position();
        st.putInt(len);
        st.put(p + 4, m, m.position(), len); // absolute: the caller's buffer is left untouched
        st.position(p + 4 + len);
      } else {
        if (st.remaining() < 4) {
          carry = m;
          break;
        }
        st.putInt(len);
        batch[n++] = st.slice(regionStart, st.position() - regionStart);
        regionStart = st.position();
        batch[n++] = m.duplicate();
        referenced += len;
      }
    }
    if (st.position() > regionStart) {
      batch[n++] = st.slice(regionStart, st.position() - regionStart);
    }
    return n;
  }

  /** Closes the connection because of {@code cause}; returns the exception to throw. */
  private IOException fail(IOException cause) {
    Throwable reason;
    if (closeReason.compareAndSet(null, cause)) {
      reason = cause;
      shutdownChannel();
    } else {
      reason = closeReason.get();
    }
    queue.clear();
    if (reason == CLEAN) {
      return new ClosedChannelException();
    }
    return reason == cause ? cause : new IOException("pipes: connection to " + description + " is broken", reason);
  }

  @Override
  public void close() {
    if (closeReason.compareAndSet(null, CLEAN)) {
      shutdownChannel();
    }
    queue.clear();
  }

  private void shutdownChannel() {
    try {
      channel.close();
    } catch (IOException ignored) {
      // Closing a socket channel does not fail in a way we could act on.
    }
    onTerminated.accept(this);
  }

  @Override
  public String describe() {
    return description;
  }

  @Override
  public String toString() {
    return "PipesConnection[" + description + "]";
  }

  // ---------------------------------------------------------------------------------------------
  // Reading

  private void readLoop(Listener listener) {
    Throwable cause;
    try {
      readFrames(listener);
      cause = CLEAN;
    } catch (ClosedChannelException e) {
      cause = closeReason.get() != null ? null : e; // a local close: the recorded reason wins
    } catch (Throwable e) { // IOException, ProtocolException, or a listener failure
      cause = e;
    }
    if (cause == null || !closeReason.compareAndSet(null, cause)) {
      cause = closeReason.get();
    } else {
      shutdownChannel();
    }
    queue.clear();
    if (closedFired.compareAndSet(false, true)) {
      listener.onClosed(cause == CLEAN ? null : cause);
    }
  }

  private void readFrames(Listener listener) throws IOException {
    ByteBuffer buf = ByteBuffer.allocateDirect(READ_BUFFER_SIZE);
    while (true) {
      if (closeReason.get() != null) {
        throw new ClosedChannelException();
      }
      int r = channel.read(buf);
      if (r < 0) {
        if (buf.position() == 0) {
          return; // clean EOF at a frame boundary
        }
        throw truncated(buf);
      }
      buf.flip();
      boolean delivered = false;
      while (buf.remaining() >= 4) {
        int pos = buf.position();
        int len = buf.getInt(pos);
        checkLength(len);
        if (buf.remaining() - 4 >= len) {
          listener.onMessage(buf.slice(pos + 4, len));
          buf.position(pos + 4 + len);
          delivered = true;
        } else if (4 + len > buf.capacity()) {
          buf.position(pos + 4);
          listener.onMessage(readLarge(buf, len));
          delivered = true;
        } else {
          break;
        }
      }
      buf.compact();
      if (delivered) {
        listener.onReadComplete();
      }
    }
  }

  /** Reads a frame larger than the read buffer into a buffer of its exact size (already size-checked). */
  private ByteBuffer readLarge(ByteBuffer buf, int len) throws IOException {
    ByteBuffer big = ByteBuffer.allocate(len);
    big.put(buf); // the part already read; buf is now empty
    while (big.hasRemaining()) {
      big.limit(Math.min(len, big.position() + LARGE_READ_CHUNK));
      if (channel.read(big) < 0) {
        throw new ProtocolException("pipes: truncated frame from " + description + ": end of stream after "
            + big.position() + " of " + len + " payload bytes");
      }
      big.limit(len);
    }
    big.flip();
    return big;
  }

  private void checkLength(int len) throws ProtocolException {
    if (len < 0 || len > maxFrameSize) {
      throw new ProtocolException("pipes: frame of " + Integer.toUnsignedString(len) + " bytes exceeds maxFrameSize "
          + maxFrameSize + " from " + description);
    }
  }

  private ProtocolException truncated(ByteBuffer buf) {
    int buffered = buf.position();
    if (buffered < 4) {
      return new ProtocolException("pipes: truncated frame from " + description + ": end of stream after "
          + buffered + " of 4 length bytes");
    }
    return new ProtocolException("pipes: truncated frame from " + description + ": end of stream after "
        + (buffered - 4) + " of " + buf.getInt(0) + " payload bytes");
  }
}
