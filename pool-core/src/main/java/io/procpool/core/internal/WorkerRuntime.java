package io.procpool.core.internal;

import io.procpool.api.SerializableCallable;
import io.procpool.api.SerializableFunction;
import io.procpool.api.SerializableRunnable;
import io.procpool.api.TaskSerializationException;
import io.procpool.api.spi.CodecRegistry;
import io.procpool.api.spi.Connection;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.locks.LockSupport;

/**
 * The worker side of the protocol: receives functions and tasks, runs them one at a time in order,
 * and sends results back, batching small results. The transport's thread only queues inbound
 * messages, so the worker always drains its connection and the parent's writes never wait for a
 * running task.
 *
 * <p>Used by worker processes ({@link io.procpool.core.WorkerMain}) and by in-JVM worker threads.
 */
public final class WorkerRuntime implements Connection.Listener {
  private static final ByteBuffer CLOSED = ByteBuffer.allocate(0);
  private static final int MAX_BATCH = 64;
  private static final long MAX_BATCH_AGE_NANOS = 100_000;
  private static final long SPIN_NANOS = 20_000;

  private final Connection connection;
  private final int workerId;
  private final int maxFrameSize;
  private final boolean processWorker;
  private final ConcurrentLinkedQueue<ByteBuffer> inbox = new ConcurrentLinkedQueue<>();
  /** The thread running {@link #run}, parked while the inbox is empty. */
  private volatile Thread executor;
  private volatile boolean parked;
  private final Map<Integer, Object> functions = new HashMap<>();
  /** Set on SHUTDOWN: the JVM then exits normally (shutdown hooks, CDS archive dump). */
  private volatile boolean shuttingDown;
  private Wire wire;
  private long maxMemory;
  private boolean retireRequested;
  private int unflushed;
  private long batchStart;

  /**
   * @param processWorker whether this runtime owns its JVM: then it captures System.out/err into
   *     the protocol, and halts the JVM when the parent goes away
   */
  public WorkerRuntime(Connection connection, int workerId, int maxFrameSize, boolean processWorker) {
    this.connection = connection;
    this.workerId = workerId;
    this.maxFrameSize = maxFrameSize;
    this.processWorker = processWorker;
  }

  @Override
  public void onMessage(ByteBuffer message) {
    ByteBuffer copy = ByteBuffer.allocate(message.remaining());
    copy.put(message).flip();
    inbox.add(copy);
    if (parked) {
      LockSupport.unpark(executor);
    }
  }

  @Override
  public void onClosed(Throwable cause) {
    if (processWorker && !shuttingDown) {
      // The parent is gone or dropped us: a running task is of no use to anybody.
      Runtime.getRuntime().halt(cause == null ? 0 : 1);
    }
    inbox.add(CLOSED);
    Thread t = executor;
    if (t != null) {
      LockSupport.unpark(t);
    }
  }

  /**
   * The next inbound message. Spins briefly first: the next task of a stream usually arrives within
   * microseconds, and waking a parked thread costs more than that.
   */
  private ByteBuffer next() throws InterruptedException {
    ByteBuffer m = inbox.poll();
    if (m != null) {
      return m;
    }
    long spinUntil = System.nanoTime() + SPIN_NANOS;
    do {
      Thread.onSpinWait();
      m = inbox.poll();
      if (m != null) {
        return m;
      }
    } while (System.nanoTime() < spinUntil);
    while (true) {
      parked = true;
      m = inbox.poll(); // re-check after announcing the park, so no wake-up is lost
      if (m != null) {
        parked = false;
        return m;
      }
      LockSupport.park(this);
      parked = false;
      if (Thread.interrupted()) {
        throw new InterruptedException();
      }
      m = inbox.poll();
      if (m != null) {
        return m;
      }
    }
  }

  /**
   * Runs the protocol until the parent sends SHUTDOWN (returns {@code true}) or the connection ends
   * ({@code false}).
   */
  public boolean run() throws IOException, InterruptedException {
    executor = Thread.currentThread();
    connection.start(this);
    Buf hello = new Buf(32).put(Protocol.HELLO).putInt(Protocol.VERSION).putInt(workerId)
        .putLong(ProcessHandle.current().pid());
    connection.write(hello.toByteBuffer());
    connection.flush();
    while (true) {
      ByteBuffer m = inbox.poll();
      if (m == null) {
        flushResults();
        m = next();
      }
      if (m == CLOSED) {
        return false;
      }
      byte type = m.get();
      switch (type) {
        case Protocol.INIT:
          if (!init(m)) {
            return false;
          }
          break;
        case Protocol.DEFINE:
          define(m);
          break;
        case Protocol.FORGET:
          functions.remove(m.getInt());
          break;
        case Protocol.TASK:
          runTask(m);
          if (maxMemory > 0 && !retireRequested && ResidentMemory.bytes() > maxMemory) {
            retireRequested = true;
            send(new Buf(1).put(Protocol.RETIRE));
          }
          if (inbox.isEmpty() || unflushed >= MAX_BATCH || System.nanoTime() - batchStart > MAX_BATCH_AGE_NANOS) {
            flushResults();
          }
          break;
        case Protocol.SHUTDOWN:
          shuttingDown = true;
          flushResults();
          return true;
        default:
          throw new IOException("unknown message type " + type + " from the parent");
      }
    }
  }

  private void flushResults() throws IOException {
    if (processWorker) {
      System.out.flush();
      System.err.flush();
    }
    if (unflushed > 0) {
      unflushed = 0;
      connection.flush();
    }
  }

  private void send(Buf message) {
    if (unflushed++ == 0) {
      batchStart = System.nanoTime();
    }
    connection.write(message.toByteBuffer());
  }

  private boolean init(ByteBuffer m) throws IOException {
    String codecName = Buf.getString(m);
    String filterPattern = Buf.getString(m);
    boolean captureOutput = m.get() != 0;
    maxMemory = m.getLong();
    int initLen = m.getInt();
    try {
      wire = new Wire(CodecRegistry.get(codecName), SerialFilters.create(filterPattern, maxFrameSize),
          Thread.currentThread().getContextClassLoader() != null
              ? Thread.currentThread().getContextClassLoader() : WorkerRuntime.class.getClassLoader());
      if (captureOutput && processWorker) {
        System.setOut(new PrintStream(new ForwardingStream(Protocol.STREAM_OUT), true));
        System.setErr(new PrintStream(new ForwardingStream(Protocol.STREAM_ERR), true));
      }
      if (initLen > 0) {
        ByteBuffer body = m.slice();
        body.limit(initLen);
        SerializableRunnable initializer = (SerializableRunnable) wire.decode(body, "the initializer");
        initializer.run();
      }
    } catch (Throwable t) {
      Buf out = new Buf(256).put(Protocol.INIT_FAILED);
      Wire errors = wire != null ? wire : new Wire(new io.procpool.core.JavaSerializationCodec(),
          SerialFilters.create(null, maxFrameSize), WorkerRuntime.class.getClassLoader());
      errors.encodeError(t, Protocol.ORIGIN_TASK, out);
      send(out);
      flushResults();
      return false;
    }
    send(new Buf(1).put(Protocol.READY));
    flushResults();
    return true;
  }

  private void define(ByteBuffer m) {
    int fnId = m.getInt();
    Object fn;
    try {
      fn = wire.decode(m, "the task function");
    } catch (TaskSerializationException e) {
      fn = e;
    }
    functions.put(fnId, fn);
  }

  private void runTask(ByteBuffer m) {
    long taskId = m.getLong();
    int fnId = m.getInt();
    byte kind = m.get();
    long start = System.nanoTime();
    Buf out = new Buf(64).put(Protocol.RESULT).putLong(taskId);
    int nanosPos = out.size();
    out.putLong(0);
    Object fn = functions.get(fnId);
    if (fn == null) {
      fail(out, nanosPos, new TaskSerializationException("worker has no function #" + fnId), Protocol.ORIGIN_PROCPOOL);
    } else if (fn instanceof TaskSerializationException) {
      fail(out, nanosPos, (Throwable) fn, Protocol.ORIGIN_PROCPOOL);
    } else if (kind == Protocol.KIND_CHUNK) {
      runChunk(fn, m, out);
    } else {
      Object value;
      try {
        value = invoke(fn, kind, m);
      } catch (TaskSerializationException e) {
        fail(out, nanosPos, e, Protocol.ORIGIN_PROCPOOL);
        finish(out, nanosPos, start);
        return;
      } catch (Throwable t) {
        fail(out, nanosPos, t, Protocol.ORIGIN_TASK);
        finish(out, nanosPos, start);
        return;
      }
      out.put(Protocol.STATUS_OK);
      int valuePos = out.size();
      try {
        wire.encode(value, out, "the result");
        checkSize(out);
      } catch (TaskSerializationException e) {
        out.truncate(valuePos - 1);
        fail(out, nanosPos, e, Protocol.ORIGIN_PROCPOOL);
      }
    }
    finish(out, nanosPos, start);
  }

  private void finish(Buf out, int nanosPos, long start) {
    out.setLong(nanosPos, System.nanoTime() - start);
    if (processWorker) {
      // Output printed by the task goes out before its result.
      System.out.flush();
      System.err.flush();
    }
    send(out);
  }

  private void checkSize(Buf out) {
    if (out.size() > maxFrameSize) {
      throw new TaskSerializationException(
          "the result is " + out.size() + " bytes encoded, over maxFrameSize " + maxFrameSize);
    }
  }

  private void fail(Buf out, int nanosPos, Throwable t, byte origin) {
    out.truncate(nanosPos + 8);
    out.put(Protocol.STATUS_ERROR);
    wire.encodeError(t, origin, out);
  }

  @SuppressWarnings("unchecked")
  private Object invoke(Object fn, byte kind, ByteBuffer args) throws Exception {
    switch (kind) {
      case Protocol.KIND_CALL:
        return ((SerializableCallable<Object>) fn).call();
      case Protocol.KIND_RUN:
        ((SerializableRunnable) fn).run();
        return null;
      case Protocol.KIND_APPLY:
        Object arg = wire.decode(args, "the argument");
        return ((SerializableFunction<Object, Object>) fn).apply(arg);
      default:
        throw new TaskSerializationException("unknown task kind " + kind);
    }
  }

  @SuppressWarnings("unchecked")
  private void runChunk(Object fn, ByteBuffer m, Buf out) {
    SerializableFunction<Object, Object> f = (SerializableFunction<Object, Object>) fn;
    int n = m.getInt();
    out.put(Protocol.STATUS_CHUNK);
    int countPos = out.size();
    out.putInt(0);
    int done = 0;
    Throwable failure = null;
    byte origin = Protocol.ORIGIN_TASK;
    int limit = m.limit();
    for (int i = 0; i < n; i++) {
      int len = m.getInt();
      int end = m.position() + len;
      Object value;
      try {
        m.limit(end);
        Object arg;
        try {
          arg = wire.decode(m, "the argument");
        } finally {
          m.limit(limit);
          m.position(end);
        }
        value = f.apply(arg);
      } catch (TaskSerializationException e) {
        failure = e;
        origin = Protocol.ORIGIN_PROCPOOL;
        break;
      } catch (Throwable t) {
        failure = t;
        break;
      }
      int lenPos = out.size();
      out.putInt(0);
      try {
        wire.encode(value, out, "the result");
        checkSize(out);
      } catch (TaskSerializationException e) {
        out.truncate(lenPos);
        failure = e;
        origin = Protocol.ORIGIN_PROCPOOL;
        break;
      }
      out.setInt(lenPos, out.size() - lenPos - 4);
      done++;
    }
    out.setInt(countPos, done);
    if (failure == null) {
      out.put(0);
    } else {
      out.put(1);
      wire.encodeError(failure, origin, out);
    }
  }

  /** Sends what a task prints to the parent as OUTPUT messages, in order with its results. */
  private final class ForwardingStream extends OutputStream {
    private final byte stream;
    private final Buf buffer = new Buf(256);

    ForwardingStream(byte stream) {
      this.stream = stream;
    }

    @Override
    public synchronized void write(int b) {
      buffer.write(b);
      if (buffer.size() >= 8192) {
        flush();
      }
    }

    @Override
    public synchronized void write(byte[] b, int off, int len) {
      buffer.write(b, off, len);
      if (buffer.size() >= 8192) {
        flush();
      }
    }

    @Override
    public synchronized void flush() {
      if (buffer.size() == 0) {
        return;
      }
      Buf m = new Buf(buffer.size() + 2).put(Protocol.OUTPUT).put(stream);
      m.write(buffer.array(), 0, buffer.size());
      buffer.reset();
      connection.write(m.toByteBuffer());
      try {
        connection.flush();
      } catch (IOException e) {
        // The connection is gone; onClosed handles it.
      }
    }
  }
}
