package io.procpool.ipc.pipes;

import io.procpool.api.spi.Connection;
import io.procpool.api.spi.MessageTooLargeException;
import io.procpool.api.spi.ProtocolException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ClosedSelectorException;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
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
 * each complete frame to the listener as a slice. A frame larger than that buffer is read into a heap
 * buffer of its own, lent to the listener with {@link Listener#onLentMessage} (the listener may keep it
 * without copying). A buffer the listener gives back is kept as this connection's spare (one, of
 * {@link #SPARE_MIN} to {@link #SPARE_MAX} bytes) and the next large frame is read into it: no fresh
 * 16 MiB array to zero and first-touch per frame. The spare is dropped once it has lain unused for {@link #SPARE_IDLE_MILLIS},
 * and when the connection closes. Every listener call, {@code onClosed} included, happens on that
 * thread, so the listener is never called concurrently.
 *
 * <p>Writing: {@link #write} only enqueues on a lock-free queue. {@link #flush} is write-combining:
 * the first thread to win a CAS becomes the writer and drains the queue for everyone, copying small
 * messages (with their headers) into one reusable direct staging buffer and passing large ones by
 * reference, in gathering writes of many messages per system call.
 *
 * <p>Interrupts: the channel is in non-blocking mode once the handshake is done. A {@link SocketChannel}
 * is an interruptible channel, and in blocking mode an interrupt landing during a read or write closes
 * it, which would fail every other thread's calls on this shared connection; the JDK arms that hook
 * only for blocking operations. So both sides read and write without blocking and, when the socket
 * cannot progress, wait in a {@link Selector} (one per direction, the writer's opened on the first
 * write that has to wait). {@code select} returns on an interrupt without closing anything: the writer
 * clears the flag, keeps waiting, and sets it again before returning to its caller.
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
  /** The most bytes of one heap buffer offered to one write call (see {@link #writeSome}). */
  static final int MAX_HEAP_WRITE = 256 * 1024;
  /** The largest large-frame buffer kept for reuse: a frame of the default maxFrameSize (64 MiB) fits. */
  static final int SPARE_MAX = 64 * 1024 * 1024 + 64 * 1024;
  /**
   * The smallest buffer kept as the spare. Below it a fresh buffer per frame measured faster in a user's
   * program (map chunks of 0.5–1 MB and 1 MiB echoes: 10–33 % less time without a spare); above it the
   * first touch of fresh memory dominates (16 MiB echoes: 30 % less time with one).
   */
  static final int SPARE_MIN = 4 * 1024 * 1024;
  /** A spare unused for this long is dropped (its memory left to the collector). */
  static final long SPARE_IDLE_MILLIS = 1000;

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
  /** Waits for the socket to become readable; owned by the reader thread, closed by either side. */
  private volatile Selector readSelector;
  /** Waits for the socket to become writable; opened by the first writer that has to wait. */
  private volatile Selector writeSelector;
  /** A large-frame buffer the listener gave back, for the next large frame; or null. */
  private final AtomicReference<ByteBuffer> spare = new AtomicReference<>();
  /** When the spare was last given back ({@link System#nanoTime}). */
  private volatile long spareSince;
  /** How long a spare may lie unused; tests shorten it. */
  volatile long spareIdleNanos = SPARE_IDLE_MILLIS * 1_000_000L;
  /** The smallest buffer kept as the spare; tests lower it. */
  volatile int spareMin = SPARE_MIN;

  // Writer state: touched only by the thread holding the `writing` flag.
  private ByteBuffer staging;
  private final ByteBuffer[] batch = new ByteBuffer[MAX_BATCH_BUFFERS];
  private ByteBuffer carry;

  /**
   * Takes over an authenticated, blocking channel and switches it to non-blocking mode.
   *
   * @throws IOException if the channel cannot be switched; the caller closes it
   */
  PipesConnection(SocketChannel channel, int maxFrameSize, String description,
      Consumer<PipesConnection> onTerminated) throws IOException {
    channel.configureBlocking(false);
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

  /** The spare large-frame buffer, or null; for tests. */
  ByteBuffer spare() {
    return spare.get();
  }

  @Override
  public void write(ByteBuffer message) {
    int size = message.remaining();
    if (size > maxFrameSize) {
      throw new MessageTooLargeException(size, maxFrameSize, "pipes, to " + description);
    }
    if (closeReason.get() != null) {
      return;
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
      // Callers' interrupts are not meant for the connection: the flag is held aside while we wait
      // for the socket (a set flag would make every select return at once) and restored after.
      boolean interrupted = Thread.interrupted();
      try {
        interrupted |= drain();
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

  /**
   * Writes queued messages until the queue is empty. Holds the `writing` flag. Returns whether the
   * thread was interrupted while it waited (the flag is cleared meanwhile).
   */
  private boolean drain() throws IOException {
    boolean interrupted = false;
    if (closeReason.get() != null) {
      queue.clear();
      Throwable reason = closeReason.get();
      if (reason == CLEAN) {
        return false;
      }
      throw new IOException("pipes: connection to " + description + " is broken", reason);
    }
    if (staging == null) {
      staging = ByteBuffer.allocateDirect(STAGING_SIZE);
    }
    while (true) {
      int n = fillBatch();
      if (n == 0) {
        return interrupted;
      }
      try {
        int offset = 0;
        while (offset < n) {
          if (writeSome(offset, n) == 0) {
            interrupted |= awaitWritable();
          }
          while (offset < n && !batch[offset].hasRemaining()) {
            offset++;
          }
        }
      } finally {
        java.util.Arrays.fill(batch, 0, n, null);
      }
    }
  }

  /**
   * One gathering write of {@code batch[offset, n)}. The JDK copies a heap buffer's whole remaining
   * content into a temporary direct buffer on every write call, however little of it the socket
   * takes; a non-blocking socket takes at most its send buffer per call, so a 16 MiB heap message
   * would be copied over and over. The write therefore stops at the first large heap buffer and
   * offers at most {@link #MAX_HEAP_WRITE} bytes of it.
   */
  private long writeSome(int offset, int n) throws IOException {
    for (int i = offset; i < n; i++) {
      ByteBuffer b = batch[i];
      if (!b.isDirect() && b.remaining() > MAX_HEAP_WRITE) {
        int limit = b.limit();
        b.limit(b.position() + MAX_HEAP_WRITE);
        try {
          return channel.write(batch, offset, i + 1 - offset);
        } finally {
          b.limit(limit);
        }
      }
    }
    return channel.write(batch, offset, n - offset);
  }

  /**
   * Waits until the socket accepts more bytes (or the connection is closed). An interrupt does not
   * end the wait: the flag is cleared and reported through the return value.
   */
  private boolean awaitWritable() throws IOException {
    Selector sel = writeSelector;
    if (sel == null) {
      sel = Selector.open();
      channel.register(sel, SelectionKey.OP_WRITE);
      writeSelector = sel;
      if (closeReason.get() != null) {
        closeQuietly(sel); // close() may have missed it
        throw new ClosedChannelException();
      }
    }
    boolean interrupted = Thread.interrupted();
    try {
      sel.select(k -> {});
    } catch (ClosedSelectorException e) {
      throw new ClosedChannelException(); // closed meanwhile; the next write reports why
    }
    return interrupted | Thread.interrupted();
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
    spare.set(null);
    try {
      channel.close();
    } catch (IOException ignored) {
      // Closing a socket channel does not fail in a way we could act on.
    }
    // A registered channel's socket is released when its last selector lets go of it; closing the
    // selectors also wakes a reader or writer waiting in one.
    closeQuietly(readSelector);
    closeQuietly(writeSelector);
    onTerminated.accept(this);
  }

  private static void closeQuietly(Selector sel) {
    if (sel != null) {
      try {
        sel.close();
      } catch (IOException ignored) {
        // Nothing to do.
      }
    }
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
    } catch (ClosedChannelException | ClosedSelectorException e) {
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
    Selector sel = Selector.open();
    readSelector = sel;
    try {
      channel.register(sel, SelectionKey.OP_READ);
      readFrames(listener, sel);
    } finally {
      closeQuietly(sel);
    }
  }

  /**
   * Reads at least one byte into {@code buf} (which has room), waiting in {@code sel}; -1 at end of
   * stream. With {@code waitFirst} (the previous read drained the socket) it waits before reading,
   * which saves the read that would only find the socket empty: the selector is level-triggered, so
   * bytes that arrived meanwhile end the wait at once.
   */
  private int read(ByteBuffer buf, Selector sel, boolean waitFirst) throws IOException {
    boolean wait = waitFirst;
    while (true) {
      if (closeReason.get() != null) {
        throw new ClosedChannelException();
      }
      if (wait) {
        Thread.interrupted(); // our own thread: a stray interrupt must not turn the wait into a spin
        sel.select(k -> {}, spareWaitMillis());
        if (closeReason.get() != null) {
          throw new ClosedChannelException();
        }
      }
      int r = channel.read(buf);
      if (r != 0) {
        return r;
      }
      wait = true;
    }
  }

  /**
   * How long the reader may wait for bytes before it looks at the spare again: 0 (no limit) without
   * one; otherwise until the spare has lain unused for {@link #spareIdleNanos}, when it is dropped.
   */
  private long spareWaitMillis() {
    if (spare.get() == null) {
      return 0;
    }
    long left = spareIdleNanos - (System.nanoTime() - spareSince);
    if (left <= 0) {
      spare.set(null); // unused for long enough: leave its memory to the collector
      return 0;
    }
    return Math.max(1, left / 1_000_000);
  }

  private void readFrames(Listener listener, Selector sel) throws IOException {
    ByteBuffer buf = ByteBuffer.allocateDirect(READ_BUFFER_SIZE);
    boolean drained = false;
    while (true) {
      int room = buf.remaining();
      int r = read(buf, sel, drained);
      drained = r < room; // a short read took everything the socket had
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
          ByteBuffer big = readLarge(buf, len, sel);
          listener.onLentMessage(big, new Release(big)); // the listener may keep it until it releases it
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

  /**
   * Reads a frame larger than the read buffer (already size-checked) into the spare if it is large
   * enough, else into a new buffer of its exact size.
   */
  private ByteBuffer readLarge(ByteBuffer buf, int len, Selector sel) throws IOException {
    ByteBuffer big = spare.getAndSet(null);
    if (big == null || big.capacity() < len) {
      big = ByteBuffer.allocate(len); // a smaller spare is dropped: the new buffer may become the spare
    } else {
      big.clear().limit(len);
    }
    big.put(buf); // the part already read; buf is now empty
    while (big.hasRemaining()) {
      big.limit(Math.min(len, big.position() + LARGE_READ_CHUNK));
      if (read(big, sel, false) < 0) {
        throw new ProtocolException("pipes: truncated frame from " + description + ": end of stream after "
            + big.position() + " of " + len + " payload bytes");
      }
      big.limit(len);
    }
    big.flip();
    return big;
  }

  /** Gives a lent buffer back: it becomes the spare unless it is too large or the connection closed. */
  private final class Release extends AtomicBoolean implements Runnable {
    private final ByteBuffer buffer;

    Release(ByteBuffer buffer) {
      this.buffer = buffer;
    }

    @Override
    public void run() {
      if (!compareAndSet(false, true) || buffer.capacity() < spareMin || buffer.capacity() > SPARE_MAX
          || closeReason.get() != null) {
        return;
      }
      spareSince = System.nanoTime();
      ByteBuffer previous = spare.getAndAccumulate(buffer,
          (cur, b) -> cur == null || cur.capacity() < b.capacity() ? b : cur);
      if (closeReason.get() != null) {
        spare.set(null); // closed meanwhile: keep nothing
        return;
      }
      if (previous == null && Thread.currentThread() != reader) {
        Selector sel = readSelector; // the reader may wait without a time limit: start the spare's clock
        if (sel != null) {
          sel.wakeup();
        }
      }
    }
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
