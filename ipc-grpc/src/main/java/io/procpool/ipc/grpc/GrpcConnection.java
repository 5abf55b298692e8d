package io.procpool.ipc.grpc;

import com.google.protobuf.ByteString;
import com.google.protobuf.UnsafeByteOperations;
import io.grpc.netty.shaded.io.netty.util.internal.ThreadExecutorMap;
import io.procpool.api.spi.Connection;
import io.procpool.api.spi.MessageTooLargeException;
import io.procpool.api.spi.ProtocolException;
import io.procpool.ipc.grpc.internal.proto.Frames;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.Objects;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A {@link Connection} over one gRPC bidirectional stream; the server and client sides differ only in
 * how they drive the underlying call, which subclasses supply.
 *
 * <p>Outbound: {@link #write} appends to a queue under a short lock; batches of at most
 * {@link Sizes#BATCH_TARGET_BYTES} (a larger message travels alone) are handed to gRPC only while
 * the call {@code isReady()}. A {@link #flush} on an application thread waits for onReady while the
 * stream is not ready; when it is ready and at most {@link Sizes#BATCH_TARGET_BYTES} are queued, it
 * leaves the sending to the call's event loop, which hands over everything queued by then as one
 * batch (a burst of small flushes becomes a few gRPC messages); with more queued it sends itself. A
 * flush on an event loop (inside a listener, say) never waits: what the stream does not take stays
 * queued, is sent from onReady, and meanwhile the connection reads nothing more (so a peer that does
 * not read stops this side's reading, as a blocked reader thread would). So the transport buffers at
 * most about one batch beyond gRPC's on-ready threshold per application flusher, plus what a
 * listener wrote in one call. A message larger than maxFrameSize is refused by {@code write} alone
 * ({@link MessageTooLargeException}); the stream lives on. Neither {@code write} nor {@code flush} is
 * interruptible: an interrupted caller's messages are still sent and its interrupt flag is set again
 * before {@code flush} returns.
 *
 * <p>Inbound: manual flow control, {@link Sizes#INBOUND_WINDOW} batch requested at a time, the next
 * one once the listener returned: while the listener is slow, HTTP/2 flow control stops the peer.
 * Listener methods run directly on the call's Netty event loop (gRPC's direct executor: no hand-off
 * per batch), so they never overlap and stay in order; a listener that blocks holds up that loop.
 * A listener method that throws (an {@link Error} included) closes the connection with that
 * throwable as the cause {@code onClosed} receives; the loop survives. Every end of the connection,
 * including a local {@link #close} and a protocol error found locally, is reported through the
 * call's own final callback, so {@code onClosed} also runs on that loop, after the last
 * {@code onMessage}, exactly once.
 */
abstract class GrpcConnection implements Connection {
  /** Set while a listener method of this connection runs on the current thread. */
  private static final ThreadLocal<GrpcConnection> DELIVERING = new ThreadLocal<>();

  private static final long READY_WAIT_NANOS = TimeUnit.MILLISECONDS.toNanos(100);

  final int maxFrameSize;
  private final String peer;

  // Outbound queue: write() appends, the single active flusher drains.
  private final Object queueLock = new Object();
  private final ArrayDeque<ByteBuffer> queue = new ArrayDeque<>(); // guarded by queueLock
  private long writtenSeq; // guarded by queueLock: messages ever queued
  private long takenSeq; // guarded by queueLock: messages ever taken off the queue
  private long promisedSeq; // guarded by queueLock: messages a flush left to the event loop to send

  /** Serializes every operation on the gRPC call except request(n), which is thread-safe. */
  final ReentrantLock sendLock = new ReentrantLock();
  private final Condition readyOrBroken = sendLock.newCondition();
  private boolean callClosed; // guarded by sendLock
  private IOException sendFailure; // guarded by sendLock
  /** A flush on a transport thread left messages queued: onReady sends them. Guarded by sendLock. */
  private volatile boolean drainOnReady;
  /** That backlog was left by a listener: reading waits until it is sent. Guarded by sendLock. */
  private volatile boolean readingPaused;
  /** Inbound batches not yet requested because of that backlog. Guarded by sendLock. */
  private int requestsOwed;
  /** Bytes written and not yet handed to gRPC. Guarded by queueLock. */
  private long queuedBytes;

  /** The call's event loop once known, where small flushes are coalesced ({@link #drainOnLoop}). */
  private volatile Executor loop;
  private final AtomicBoolean drainScheduled = new AtomicBoolean();
  private final Runnable drainTask = this::drainOnLoop;

  // Lifecycle, guarded by this.
  private Listener listener;
  private boolean terminated;
  private Throwable terminalCause;
  private Throwable pendingCause; // a failure found locally, reported when the call ends

  private final AtomicBoolean closing = new AtomicBoolean();
  private final AtomicBoolean closedFired = new AtomicBoolean();
  private volatile boolean dead;

  GrpcConnection(int maxFrameSize, String peer) {
    this.maxFrameSize = maxFrameSize;
    this.peer = peer;
  }

  // ---- what a side supplies; called with sendLock held unless noted ----

  abstract boolean callIsReady();

  abstract void callSend(Frames frames);

  /** Thread-safe; called without sendLock. */
  abstract void callRequest(int n);

  /** A local close: end the stream, cleanly if the transport lets us. */
  abstract void callCloseLocally();

  /** A local failure: end the stream with an error the peer sees. */
  abstract void callAbort(Throwable cause);

  /** Called once after the connection ended (without locks), e.g. to release a channel. */
  void afterTerminated() {}

  // ---- Connection ----

  @Override
  public void start(Listener listener) {
    Objects.requireNonNull(listener, "listener");
    boolean endedAlready;
    Throwable cause;
    synchronized (this) {
      if (this.listener != null) {
        throw new IllegalStateException("start() was already called on " + describe());
      }
      this.listener = listener;
      endedAlready = terminated;
      cause = terminalCause;
    }
    if (endedAlready) {
      // The call's callbacks are over: no other listener call can overlap this one.
      fireClosed(listener, cause);
    } else {
      requestSafely(Sizes.INBOUND_WINDOW);
    }
  }

  @Override
  public void write(ByteBuffer message) {
    Objects.requireNonNull(message, "message");
    int length = message.remaining();
    if (length > maxFrameSize) {
      // Refuse this one message only: nothing is queued and the stream lives on.
      throw new MessageTooLargeException(length, maxFrameSize, describe());
    }
    if (dead || closing.get()) {
      return;
    }
    synchronized (queueLock) {
      queue.addLast(message);
      writtenSeq++;
      queuedBytes += length;
    }
  }

  @Override
  public void flush() throws IOException {
    long target;
    synchronized (queueLock) {
      target = writtenSeq;
    }
    // On a transport thread (inside any connection's listener, so on a Netty event loop): never wait.
    // What the stream cannot take now stays queued and is sent from this connection's onReady.
    boolean onTransportThread = onEventLoop();
    // Not interruptible: a thread whose interrupt flag is set must still get its messages sent (the
    // SPI promise), so an interrupt is remembered and restored on the way out instead.
    boolean interrupted = false;
    sendLock.lock();
    try {
      while (true) {
        if (sendFailure != null) {
          throw rethrowable(sendFailure);
        }
        boolean empty;
        boolean done;
        long pending;
        synchronized (queueLock) {
          empty = queue.isEmpty();
          done = empty || takenSeq >= target;
          pending = queuedBytes;
        }
        if (done) {
          if (empty) {
            backlogSentLocked();
          }
          return;
        }
        if (!callIsReady()) {
          if (onTransportThread) {
            promise(target);
            drainOnReady = true;
            readingPaused = true;
            return;
          }
          try {
            readyOrBroken.awaitNanos(READY_WAIT_NANOS);
          } catch (InterruptedException e) {
            interrupted = true; // keep sending; the flag is set again below
          }
          continue;
        }
        if (!onTransportThread && pending <= Sizes.BATCH_TARGET_BYTES && promise(target) && scheduleDrain()) {
          // A small backlog and a stream that takes it: the event loop sends it, together with what
          // other flushes add meanwhile, as one batch (fewer gRPC messages, no serialization here).
          return;
        }
        Frames batch = nextBatch();
        if (batch.getMessagesCount() > 0) {
          callSend(batch);
        }
      }
    } finally {
      sendLock.unlock();
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /**
   * Sends what a flush on a transport thread left queued, while the stream takes it; then resumes
   * reading if that backlog had paused it. Runs on this connection's event loop (onReady).
   */
  private void drainLocked() {
    if (!drainOnReady || sendFailure != null) {
      return;
    }
    while (callIsReady()) {
      Frames batch = nextBatch();
      if (batch.getMessagesCount() == 0) {
        backlogSentLocked();
        return;
      }
      callSend(batch);
    }
  }

  /** Records that the messages up to {@code seq} must go out even if a clean close comes first. */
  private boolean promise(long seq) {
    synchronized (queueLock) {
      promisedSeq = Math.max(promisedSeq, seq);
    }
    return true;
  }

  /** Makes sure {@link #drainOnLoop} will run; false if there is no loop to run it (send here). */
  private boolean scheduleDrain() {
    Executor l = loop;
    if (l == null) {
      return false;
    }
    if (drainScheduled.compareAndSet(false, true)) {
      try {
        l.execute(drainTask);
      } catch (RejectedExecutionException e) {
        drainScheduled.set(false); // the loop is shutting down: send on this thread
        return false;
      }
    }
    return true;
  }

  /**
   * On the event loop: hands everything queued to gRPC as few batches as possible. What the stream
   * does not take now is sent from onReady.
   */
  private void drainOnLoop() {
    drainScheduled.set(false);
    sendLock.lock();
    try {
      if (sendFailure != null) {
        return;
      }
      while (true) {
        if (!callIsReady()) {
          drainOnReady = true;
          return;
        }
        Frames batch = nextBatch();
        if (batch.getMessagesCount() == 0) {
          backlogSentLocked();
          return;
        }
        callSend(batch);
      }
    } catch (RuntimeException e) {
      // The call ended; its final callback reports it.
    } finally {
      sendLock.unlock();
    }
  }

  /**
   * Whether this thread is a Netty event loop (listeners, onClosed and the acceptor run there): it
   * must never wait for a stream to become ready, because only an event loop makes it ready.
   */
  static boolean onEventLoop() {
    return DELIVERING.get() != null || ThreadExecutorMap.currentExecutor() != null;
  }

  /** Called by a side once it knows the event loop its call runs on. */
  final void useLoop(Executor eventLoop) {
    this.loop = eventLoop;
  }

  /** The queue is empty: a backlog left by a flush on a transport thread is gone; resume reading. */
  private void backlogSentLocked() {
    if (drainOnReady) {
      drainOnReady = false;
      readingPaused = false;
      int owed = requestsOwed;
      requestsOwed = 0;
      if (owed > 0) {
        requestSafely(owed);
      }
    }
  }

  /** Takes the next batch off the queue (empty if another flusher took everything). */
  private Frames nextBatch() {
    Frames.Builder batch = Frames.newBuilder();
    int size = 0;
    synchronized (queueLock) {
      ByteBuffer m;
      while ((m = queue.peekFirst()) != null) {
        int length = m.remaining(); // at most maxFrameSize: write() refused larger ones
        int entry = Sizes.encodedEntrySize(length);
        if (batch.getMessagesCount() > 0 && size + entry > Sizes.BATCH_TARGET_BYTES) {
          break;
        }
        queue.pollFirst();
        takenSeq++;
        queuedBytes -= length;
        // Ownership of the buffer passed to us in write(): no copy.
        batch.addMessages(UnsafeByteOperations.unsafeWrap(m));
        size += entry;
      }
    }
    return batch.build();
  }

  @Override
  public void close() {
    closeWith(null);
  }

  /** Ends the call with an error status that tells the peer why (e.g. INVALID_ARGUMENT). */
  @Override
  public void close(Throwable reason) {
    closeWith(reason);
  }

  private void closeWith(Throwable reason) {
    if (!closing.compareAndSet(false, true)) {
      return;
    }
    sendLock.lock();
    try {
      if (reason == null && sendFailure == null && !callClosed) {
        sendPromisedLocked();
      }
      if (sendFailure == null) {
        sendFailure = new IOException("grpc: connection " + describe() + " was closed");
      }
      if (!callClosed) {
        callClosed = true;
        try {
          if (reason == null) {
            callCloseLocally();
          } else {
            callAbort(reason);
          }
        } catch (RuntimeException ignored) {
          // The call already ended; its final callback reports the end.
        }
      }
      readyOrBroken.signalAll();
    } finally {
      sendLock.unlock();
    }
    clearQueue();
  }

  /**
   * A clean close: hands gRPC what flushes that returned early left to the event loop or to onReady,
   * so that it is sent before the stream ends, as it would have been had those flushes sent it.
   */
  private void sendPromisedLocked() {
    try {
      while (true) {
        synchronized (queueLock) {
          if (takenSeq >= promisedSeq || queue.isEmpty()) {
            return;
          }
        }
        Frames batch = nextBatch();
        if (batch.getMessagesCount() == 0) {
          return;
        }
        callSend(batch);
      }
    } catch (RuntimeException e) {
      // The call already ended; its final callback reports the end.
    }
  }

  /** How many written messages are not yet handed to gRPC (tests). */
  final int queuedMessages() {
    synchronized (queueLock) {
      return queue.size();
    }
  }

  @Override
  public String describe() {
    return peer;
  }

  @Override
  public String toString() {
    return "GrpcConnection[" + peer + "]";
  }

  // ---- called by the sides' gRPC listeners (on the call's serialized executor) ----

  /**
   * One inbound batch, on the connection's event loop: delivers its messages, then asks gRPC for the
   * next batch, unless a flush made by the listener left this connection's own messages queued: then
   * reading resumes once they are sent (backpressure without blocking the event loop).
   */
  final void onFrames(Frames frames) {
    Listener l;
    synchronized (this) {
      l = listener;
      if (l == null || terminated || pendingCause != null) {
        return;
      }
    }
    if (closing.get()) {
      return;
    }
    int n = frames.getMessagesCount();
    if (n > 0) {
      DELIVERING.set(this);
      try {
        for (int i = 0; i < n; i++) {
          ByteString m = frames.getMessages(i);
          if (m.size() > maxFrameSize) {
            abort(Sizes.tooLarge(maxFrameSize));
            return;
          }
          l.onMessage(m.asReadOnlyByteBuffer());
          if (closing.get() || dead) {
            return;
          }
        }
        l.onReadComplete();
      } catch (Throwable t) {
        // A listener failure (an Error included) closes this connection with that very throwable
        // as the cause; the event loop survives.
        abort(t);
        return;
      } finally {
        DELIVERING.remove();
      }
    }
    if (readingPaused) {
      sendLock.lock();
      try {
        if (readingPaused) {
          requestsOwed++;
          return;
        }
      } finally {
        sendLock.unlock();
      }
    }
    requestSafely(1);
  }

  /** The call may accept more outbound messages. */
  final void onCallReady() {
    sendLock.lock();
    try {
      drainLocked();
      readyOrBroken.signalAll();
    } finally {
      sendLock.unlock();
    }
  }

  /**
   * The call ended (its final callback). {@code mapped} is the cause derived from the call's status,
   * used unless a local close or a local failure explains the end better.
   */
  final void terminate(Throwable mapped) {
    Listener l;
    Throwable cause;
    synchronized (this) {
      if (terminated) {
        return;
      }
      terminated = true;
      dead = true;
      cause = pendingCause != null ? pendingCause : closing.get() ? null : mapped;
      terminalCause = cause;
      l = listener;
    }
    sendLock.lock();
    try {
      callClosed = true;
      if (sendFailure == null) {
        sendFailure = cause instanceof IOException
            ? (IOException) cause
            : new IOException("grpc: connection " + describe() + " ended", cause);
      }
      readyOrBroken.signalAll();
    } finally {
      sendLock.unlock();
    }
    clearQueue();
    try {
      afterTerminated();
    } finally {
      if (l != null) {
        fireClosed(l, cause);
      }
    }
  }

  /** Fails the connection because of something found locally; the listener hears it via terminate. */
  final void abort(Throwable cause) {
    sendLock.lock();
    try {
      abortLocked(cause);
    } finally {
      sendLock.unlock();
    }
    clearQueue();
  }

  private void abortLocked(Throwable cause) {
    synchronized (this) {
      if (terminated || pendingCause != null) {
        return;
      }
      pendingCause = cause;
    }
    if (sendFailure == null) {
      sendFailure = cause instanceof IOException
          ? (IOException) cause
          : new IOException("grpc: connection " + describe() + " failed", cause);
    }
    if (!callClosed) {
      callClosed = true;
      try {
        callAbort(cause);
      } catch (RuntimeException ignored) {
        // Already ended.
      }
    }
    readyOrBroken.signalAll();
  }

  private void fireClosed(Listener l, Throwable cause) {
    if (closedFired.compareAndSet(false, true)) {
      try {
        l.onClosed(cause);
      } catch (Throwable ignored) {
        // The connection is over either way; the callback thread must survive.
      }
    }
  }

  private void requestSafely(int n) {
    try {
      callRequest(n);
    } catch (RuntimeException ignored) {
      // The call ended; its final callback reports it.
    }
  }

  private void clearQueue() {
    synchronized (queueLock) {
      queue.clear();
      takenSeq = writtenSeq;
      queuedBytes = 0;
    }
  }

  private static IOException rethrowable(IOException failure) {
    // A fresh exception per throw, so each caller gets its own stack trace; keep the type's meaning.
    if (failure instanceof ProtocolException) {
      return new ProtocolException(failure.getMessage(), failure);
    }
    return new IOException(failure.getMessage(), failure);
  }
}
