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
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
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
  /** How long a finished result may wait for the next one before it is sent anyway. */
  private static final long MAX_HOLD_NANOS = 100_000;
  private static final long SPIN_NANOS = 20_000;

  private final Connection connection;
  private final int workerId;
  private final int maxFrameSize;
  private final boolean processWorker;
  /**
   * Messages from the parent not handled yet. Bounded by the parent's credit (a task count and a
   * byte budget per worker), so it needs no bound of its own.
   */
  private final ConcurrentLinkedQueue<ByteBuffer> inbox = new ConcurrentLinkedQueue<>();
  /** The lent buffers among the inbox's messages, in the same order (see {@link #onLentMessage}). */
  private final ConcurrentLinkedQueue<Lent> lent = new ConcurrentLinkedQueue<>();
  /** Taking a TASK from the inbox and recording it as running is atomic with respect to a RECALL. */
  private final Object takeLock = new Object();
  /** The task being run, or -1. Written under {@link #takeLock} when a task is taken. */
  private volatile long running = -1;
  /** The thread running {@link #run}, parked while the inbox is empty. */
  private volatile Thread executor;
  private volatile boolean parked;
  private final Map<Integer, Object> functions = new HashMap<>();
  /** Set on SHUTDOWN: the JVM then exits normally (shutdown hooks, CDS archive dump). */
  private volatile boolean shuttingDown;
  private volatile Payloads payloads;
  private long maxMemory;
  private final java.util.concurrent.atomic.AtomicBoolean retireRequested =
      new java.util.concurrent.atomic.AtomicBoolean();
  private final String launchId;
  /** Results written and not flushed. Incremented after the write, so a concurrent flush never misses one. */
  private final AtomicInteger unflushed = new AtomicInteger();
  private long batchStart;
  /** Sends results held in a batch when the task after them runs long; see {@link #armFlusher}. */
  private Thread flusher;
  private volatile boolean flusherArmed;
  private volatile boolean stopped;
  /** SECRET requests waiting for their SECRET_REPLY, by request id. */
  private final ConcurrentHashMap<Long, CompletableFuture<byte[]>>
      secretRequests = new ConcurrentHashMap<>();
  private final AtomicLong secretIds = new AtomicLong();
  private volatile boolean connectionClosed;
  /** How long a SECRET request waits for the parent's answer. */
  private static final long SECRET_WAIT_SECONDS = 30;

  /**
   * @param processWorker whether this runtime owns its JVM: then it captures System.out/err into
   *     the protocol, and halts the JVM when the parent goes away
   */
  public WorkerRuntime(Connection connection, int workerId, int maxFrameSize, boolean processWorker) {
    this(connection, workerId, maxFrameSize, processWorker, null);
  }

  /**
   * @param launchId the cluster engine's id of this worker's job, sent in HELLO; null when none
   */
  public WorkerRuntime(Connection connection, int workerId, int maxFrameSize, boolean processWorker,
      String launchId) {
    this.launchId = launchId;
    this.connection = connection;
    this.workerId = workerId;
    this.maxFrameSize = maxFrameSize;
    this.processWorker = processWorker;
    if (processWorker) {
      Secrets.askParentWith(this::askParent);
    }
  }

  /**
   * Asks the parent for the manager key with {@code fingerprint} (for {@link Secrets#lookup});
   * null if the parent does not know it or cannot be asked. Any thread but the transport's.
   */
  private byte[] askParent(byte[] fingerprint) {
    long id = secretIds.incrementAndGet();
    CompletableFuture<byte[]> f = new CompletableFuture<>();
    secretRequests.put(id, f);
    if (connectionClosed) {
      secretRequests.remove(id);
      return null; // onClosed may have missed this request
    }
    try {
      connection.write(WorkerProtocol.secret(id, fingerprint));
      connection.flush();
      return f.get(SECRET_WAIT_SECONDS, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return null;
    } catch (IOException | ExecutionException | TimeoutException e) {
      return null;
    } finally {
      secretRequests.remove(id);
    }
  }

  @Override
  public void onMessage(ByteBuffer message) {
    receive(message, false, null);
  }

  /** A large frame the transport read into a buffer of its own: queued as it is, without a copy. */
  @Override
  public void onOwnedMessage(ByteBuffer message) {
    receive(message, true, null);
  }

  /**
   * A large frame in a buffer the transport lends: queued as it is, and given back once the executor
   * has handled the message (a task: once it ran and its result is encoded), so that the transport
   * reads the next large frame into the same memory.
   */
  @Override
  public void onLentMessage(ByteBuffer message, Runnable release) {
    Payloads p = payloads; // null before INIT: then, as for a custom codec, the buffer is kept
    receive(message, true, p != null && p.decodesIntoNewMemory() ? release : null);
  }

  /** A lent inbound buffer waiting in the inbox, with what gives it back. */
  private static final class Lent {
    final ByteBuffer buffer;
    final Runnable release;

    Lent(ByteBuffer buffer, Runnable release) {
      this.buffer = buffer;
      this.release = release;
    }
  }

  /** Gives {@code m} back to the transport if it is the oldest lent buffer still out (the executor's thread). */
  private void giveBack(ByteBuffer m) {
    Lent l = lent.peek();
    if (l != null && l.buffer == m) {
      lent.poll();
      l.release.run();
    }
  }

  private void receive(ByteBuffer message, boolean owned, Runnable release) {
    if (!queue(message, owned, release) && release != null) {
      release.run(); // handled on this thread
    }
  }

  /** Handles or queues one inbound message; returns whether it was queued for the executor. */
  private boolean queue(ByteBuffer message, boolean owned, Runnable release) {
    if (message.remaining() > 0 && message.get(message.position()) == WorkerProtocol.SECRET_REPLY) {
      // On the transport's thread: the asking thread (often the executor) waits for it.
      message.get();
      try {
        WorkerProtocol.SecretReply reply = WorkerProtocol.decodeSecretReply(message);
        CompletableFuture<byte[]> f = secretRequests.remove(reply.requestId());
        if (f != null) {
          f.complete(reply.key());
        }
      } catch (IOException e) {
        connection.close(e);
      }
      return false;
    }
    if (message.remaining() > 0 && message.get(message.position()) == WorkerProtocol.PING) {
      // On the transport's thread, at once: the pool asks whether this worker (its node) is still there,
      // and the executor may be busy with a long task.
      connection.write(WorkerProtocol.pong());
      try {
        connection.flush();
      } catch (IOException e) {
        // onClosed handles it
      }
      return false;
    }
    if (message.remaining() > 0 && message.get(message.position()) == WorkerProtocol.RECALL) {
      // On the transport's thread: the executor may be busy with a long task.
      message.get();
      try {
        recall(WorkerProtocol.decodeRecall(message));
      } catch (IOException e) {
        connection.close(e);
      }
      return false;
    }
    ByteBuffer kept;
    if (owned) {
      kept = message;
    } else {
      kept = ByteBuffer.allocate(message.remaining());
      kept.put(message).flip();
    }
    if (release != null) {
      lent.add(new Lent(kept, release)); // before the executor can see the message
    }
    inbox.add(kept);
    if (parked) {
      LockSupport.unpark(executor);
    }
    return true;
  }

  /** Takes the named tasks out of the inbox unless started, and tells the parent which and what runs. */
  private void recall(long[] ids) {
    long[] removed = new long[ids.length];
    int n = 0;
    long runningNow;
    synchronized (takeLock) {
      for (ByteBuffer m : inbox) {
        if (m != CLOSED && m.get(m.position()) == WorkerProtocol.TASK) {
          long id = WorkerProtocol.peekTaskId(m);
          for (long wanted : ids) {
            if (wanted == id) {
              if (inbox.remove(m)) {
                removed[n++] = id;
                for (Lent l : lent) {
                  if (l.buffer == m && lent.remove(l)) {
                    l.release.run(); // never runs: nothing reads it any more
                    break;
                  }
                }
              }
              break;
            }
          }
        }
      }
      runningNow = running;
    }
    connection.write(WorkerProtocol.recalled(runningNow, java.util.Arrays.copyOf(removed, n)));
    try {
      connection.flush();
    } catch (IOException e) {
      // onClosed handles it
    }
  }

  @Override
  public void onClosed(Throwable cause) {
    if (processWorker && !shuttingDown) {
      // The parent is gone or dropped us: a running task is of no use to anybody.
      Runtime.getRuntime().halt(cause == null ? 0 : 1);
    }
    inbox.add(CLOSED);
    connectionClosed = true;
    for (CompletableFuture<byte[]> f : secretRequests.values()) {
      f.complete(null);
    }
    Thread t = executor;
    if (t != null) {
      LockSupport.unpark(t);
    }
  }

  /** The next inbound message, or null; a TASK taken here is the running task. */
  private ByteBuffer take() {
    synchronized (takeLock) {
      ByteBuffer m = inbox.poll();
      if (m != null && m != CLOSED && m.get(m.position()) == WorkerProtocol.TASK) {
        running = WorkerProtocol.peekTaskId(m);
      }
      return m;
    }
  }

  /**
   * The next inbound message. Spins briefly first: the next task of a stream usually arrives within
   * microseconds, and waking a parked thread costs more than that.
   */
  private ByteBuffer next() throws InterruptedException {
    ByteBuffer m = take();
    if (m != null) {
      return m;
    }
    long spinUntil = System.nanoTime() + SPIN_NANOS;
    do {
      Thread.onSpinWait();
      m = take();
      if (m != null) {
        return m;
      }
    } while (System.nanoTime() < spinUntil);
    while (true) {
      parked = true;
      m = take(); // re-check after announcing the park, so no wake-up is lost
      if (m != null) {
        parked = false;
        return m;
      }
      LockSupport.park(this);
      parked = false;
      if (Thread.interrupted()) {
        throw new InterruptedException();
      }
      m = take();
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
    flusher = new Thread(this::flushHeldResults, "procpool-worker-flusher");
    flusher.setDaemon(true);
    flusher.start();
    try {
      return serve();
    } finally {
      stopped = true;
      LockSupport.unpark(flusher);
      if (!processWorker) {
        SerialFilters.clearThreadPattern();
      }
    }
  }

  private boolean serve() throws IOException, InterruptedException {
    connection.start(this);
    connection.write(WorkerProtocol.hello(workerId, ProcessHandle.current().pid(), launchId));
    connection.flush();
    while (true) {
      ByteBuffer m = take();
      if (m == null) {
        flushResults();
        m = next();
      }
      if (m == CLOSED) {
        return false;
      }
      byte type = m.get();
      switch (type) {
        case WorkerProtocol.INIT:
          if (!init(WorkerProtocol.decodeInit(m))) {
            return false;
          }
          break;
        case WorkerProtocol.DEFINE:
          define(m);
          break;
        case WorkerProtocol.FORGET:
          functions.remove(WorkerProtocol.decodeForget(m));
          break;
        case WorkerProtocol.TASK:
          if (unflushed.get() > 0) {
            armFlusher();
          }
          runTask(m);
          running = -1;
          if (maxMemory > 0 && !retireRequested.get() && ResidentMemory.bytes() > maxMemory
              && retireRequested.compareAndSet(false, true)) {
            send(WorkerProtocol.retire());
          }
          if (inbox.isEmpty() || unflushed.get() >= MAX_BATCH || System.nanoTime() - batchStart > MAX_BATCH_AGE_NANOS) {
            flushResults();
          }
          break;
        case WorkerProtocol.SHUTDOWN:
          shuttingDown = true;
          flushResults();
          return true;
        default:
          throw new IOException("unknown message type " + type + " from the parent");
      }
      giveBack(m); // handled: nothing refers to its bytes any more
    }
  }

  /**
   * A task starts while results wait in the batch: if it runs longer than {@link #MAX_HOLD_NANOS},
   * the flusher sends them. One wake-up per batch at most.
   */
  private void armFlusher() {
    if (!flusherArmed) {
      flusherArmed = true;
      LockSupport.unpark(flusher);
    }
  }

  /** The flusher thread's loop. */
  private void flushHeldResults() {
    while (!stopped) {
      if (!flusherArmed) {
        LockSupport.park(this);
        continue;
      }
      LockSupport.parkNanos(this, MAX_HOLD_NANOS);
      flusherArmed = false;
      try {
        flushConnection();
      } catch (IOException e) {
        return; // onClosed handles it
      }
    }
  }

  /**
   * Has the flusher send what another thread wrote (a log record), without blocking that thread;
   * once the protocol loop has ended, flushes at once.
   */
  private void flushSoon() {
    unflushed.incrementAndGet();
    if (stopped || flusher == null) {
      try {
        flushConnection();
      } catch (IOException e) {
        // onClosed handles it
      }
    } else {
      armFlusher();
    }
  }

  private void flushResults() throws IOException {
    if (processWorker) {
      System.out.flush();
      System.err.flush();
    }
    flushConnection();
  }

  private void flushConnection() throws IOException {
    if (unflushed.getAndSet(0) > 0) {
      connection.flush();
    }
  }

  /**
   * Asks the parent to retire this worker: it gets no new task, finishes those it holds, is told to
   * exit, and is replaced. From any thread (e.g. a signal handler: a cluster job near its walltime);
   * once only.
   */
  public void requestRetire() {
    if (retireRequested.compareAndSet(false, true)) {
      connection.write(WorkerProtocol.retire());
      try {
        connection.flush();
      } catch (IOException e) {
        // The connection is gone; onClosed handles it.
      }
    }
  }

  private void send(ByteBuffer message) {
    connection.write(message);
    if (unflushed.getAndIncrement() == 0) {
      batchStart = System.nanoTime();
    }
  }

  private void send(Buf message) {
    send(message.toByteBuffer());
  }

  private boolean init(WorkerProtocol.Init init) throws IOException {
    maxMemory = init.maxMemory();
    try {
      payloads = new Payloads(CodecRegistry.get(init.codec()), SerialFilters.create(init.serialFilter(), maxFrameSize),
          Thread.currentThread().getContextClassLoader() != null
              ? Thread.currentThread().getContextClassLoader() : WorkerRuntime.class.getClassLoader(),
          processWorker ? Payloads.WORKER_MISSING_CLASS : null);
      // Queue items a task takes in this worker pass the pool's pattern too.
      SerialFilters.workerPattern(init.serialFilter(), processWorker);
      if (init.captureOutput() && processWorker) {
        PrintStream processErr = System.err;
        System.setOut(new PrintStream(new ForwardingStream(WorkerProtocol.STREAM_OUT), true));
        System.setErr(new PrintStream(new ForwardingStream(WorkerProtocol.STREAM_ERR), true));
        // Log records travel as records (before the initializer, so that its records do too).
        LogForwardingHandler.install(new LogForwardingHandler(connection, payloads, maxFrameSize,
            Thread.currentThread(), this::flushSoon, processErr));
      }
      if (init.initializer() != null) {
        SerializableRunnable initializer = (SerializableRunnable) payloads.decode(init.initializer(), "the initializer");
        initializer.run();
      }
    } catch (Throwable t) {
      Payloads errors = payloads != null ? payloads : new Payloads(new io.procpool.core.JavaSerializationCodec(),
          SerialFilters.create(null, maxFrameSize), WorkerRuntime.class.getClassLoader());
      send(WorkerProtocol.initFailed(errors, t));
      flushResults();
      return false;
    }
    send(WorkerProtocol.ready());
    flushResults();
    return true;
  }

  private void define(ByteBuffer m) {
    int fnId = WorkerProtocol.decodeDefineId(m);
    Object fn;
    try {
      fn = payloads.decode(m, "the task function");
    } catch (TaskSerializationException e) {
      fn = e;
    }
    functions.put(fnId, fn);
  }

  private void runTask(ByteBuffer m) {
    WorkerProtocol.TaskHeader header = WorkerProtocol.decodeTaskHeader(m);
    long taskId = header.taskId();
    int fnId = header.fnId();
    byte kind = header.kind();
    long start = System.nanoTime();
    Buf out = new Buf(64);
    int nanosPos = WorkerProtocol.beginResult(out, taskId);
    Object fn = functions.get(fnId);
    if (fn == null) {
      fail(out, nanosPos, new TaskSerializationException("worker has no function #" + fnId), WorkerProtocol.ORIGIN_PROCPOOL);
    } else if (fn instanceof TaskSerializationException) {
      fail(out, nanosPos, (Throwable) fn, WorkerProtocol.ORIGIN_PROCPOOL);
    } else if (kind == WorkerProtocol.KIND_CHUNK || kind == WorkerProtocol.KIND_BULK) {
      runChunk(fn, m, out, nanosPos, kind == WorkerProtocol.KIND_BULK);
    } else {
      Object value;
      try {
        value = invoke(fn, kind, m);
      } catch (TaskSerializationException e) {
        fail(out, nanosPos, e, WorkerProtocol.ORIGIN_PROCPOOL);
        finish(out, nanosPos, start);
        return;
      } catch (Throwable t) {
        fail(out, nanosPos, t, WorkerProtocol.ORIGIN_TASK);
        finish(out, nanosPos, start);
        return;
      }
      out.put(WorkerProtocol.STATUS_OK);
      int valuePos = out.size();
      try {
        payloads.encode(value, out, "the result");
        checkSize(out);
      } catch (TaskSerializationException e) {
        out.truncate(valuePos - 1);
        fail(out, nanosPos, e, WorkerProtocol.ORIGIN_PROCPOOL);
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
    out.put(WorkerProtocol.STATUS_ERROR);
    payloads.encodeError(t, origin, out);
  }

  @SuppressWarnings("unchecked")
  private Object invoke(Object fn, byte kind, ByteBuffer args) throws Exception {
    switch (kind) {
      case WorkerProtocol.KIND_CALL:
        return ((SerializableCallable<Object>) fn).call();
      case WorkerProtocol.KIND_RUN:
        ((SerializableRunnable) fn).run();
        return null;
      case WorkerProtocol.KIND_APPLY:
        Object arg = payloads.decode(args, "the argument");
        return ((SerializableFunction<Object, Object>) fn).apply(arg);
      default:
        throw new TaskSerializationException("unknown task kind " + kind);
    }
  }

  /**
   * Runs a CHUNK ({@code bulkArgs} false: each argument length-prefixed, decoded by the codec) or a
   * BULK task ({@code bulkArgs} true: {@link BulkChunk} arguments). Either way the results are written
   * as a BULK result while they all have one bulk type (with the "java" codec only), else as a CHUNK
   * result; the first result that does not fit turns the bulk values written so far into CHUNK values.
   */
  @SuppressWarnings("unchecked")
  private void runChunk(Object fn, ByteBuffer m, Buf out, int nanosPos, boolean bulkArgs) {
    SerializableFunction<Object, Object> f = (SerializableFunction<Object, Object>) fn;
    byte argType = BulkChunk.NONE;
    int n;
    try {
      if (bulkArgs) {
        argType = m.get();
      }
      n = m.getInt();
      if (bulkArgs) {
        BulkChunk.check(m, argType, n, "task");
      }
    } catch (io.procpool.api.spi.ProtocolException | RuntimeException e) {
      fail(out, nanosPos, new TaskSerializationException("malformed chunk task: " + e.getMessage(), e),
          WorkerProtocol.ORIGIN_PROCPOOL);
      return;
    }
    int statusPos = out.size();
    boolean bulkOut = payloads.codec() instanceof io.procpool.core.JavaSerializationCodec;
    out.put(bulkOut ? WorkerProtocol.STATUS_BULK : WorkerProtocol.STATUS_CHUNK);
    int countPos = out.size();
    out.putInt(0);
    int typePos = out.size();
    byte resultType = BulkChunk.NONE;
    int done = 0;
    Throwable failure = null;
    byte origin = WorkerProtocol.ORIGIN_TASK;
    int limit = m.limit();
    for (int i = 0; i < n; i++) {
      Object value;
      try {
        Object arg;
        if (bulkArgs) {
          arg = BulkChunk.get(m, argType);
        } else {
          int len = m.getInt();
          int end = m.position() + len;
          m.limit(end);
          try {
            arg = payloads.decode(m, "the argument");
          } finally {
            m.limit(limit);
            m.position(end);
          }
        }
        value = f.apply(arg);
      } catch (TaskSerializationException e) {
        failure = e;
        origin = WorkerProtocol.ORIGIN_PROCPOOL;
        break;
      } catch (Throwable t) {
        failure = t;
        break;
      }
      if (bulkOut) {
        byte t = BulkChunk.typeOf(value);
        if (done == 0 && t != BulkChunk.NONE) {
          resultType = t;
          out.put(t);
        }
        if (t == resultType && t != BulkChunk.NONE) {
          int pos = out.size();
          BulkChunk.put(out, t, value);
          // What out.size() would be in the CHUNK encoding: checkSize's rule, with its numbers.
          long perItemSize = out.size() - 1L + (long) BulkChunk.PER_ITEM_EXTRA * (done + 1);
          if (perItemSize > maxFrameSize) {
            out.truncate(pos);
            failure = new TaskSerializationException(
                "the result is " + perItemSize + " bytes encoded, over maxFrameSize " + maxFrameSize);
            origin = WorkerProtocol.ORIGIN_PROCPOOL;
            break;
          }
          done++;
          continue;
        }
        bulkOut = false;
        toChunkResult(out, statusPos, typePos, resultType, done);
      }
      int lenPos = out.size();
      out.putInt(0);
      try {
        payloads.encode(value, out, "the result");
        checkSize(out);
      } catch (TaskSerializationException e) {
        out.truncate(lenPos);
        failure = e;
        origin = WorkerProtocol.ORIGIN_PROCPOOL;
        break;
      }
      out.setInt(lenPos, out.size() - lenPos - 4);
      done++;
    }
    if (bulkOut && done == 0) {
      toChunkResult(out, statusPos, typePos, resultType, 0);
    }
    out.setInt(countPos, done);
    if (failure == null) {
      out.put(0);
    } else {
      out.put(1);
      payloads.encodeError(failure, origin, out);
    }
  }

  /** Rewrites the {@code done} bulk values of type {@code type} after {@code statusPos} as a CHUNK result's values. */
  private void toChunkResult(Buf out, int statusPos, int typePos, byte type, int done) {
    ByteBuffer values = done == 0 ? null
        : ByteBuffer.wrap(java.util.Arrays.copyOfRange(out.array(), typePos + 1, out.size()));
    out.truncate(statusPos);
    out.put(WorkerProtocol.STATUS_CHUNK);
    out.putInt(0);
    for (int j = 0; j < done; j++) {
      int lenPos = out.size();
      out.putInt(0);
      payloads.encode(BulkChunk.get(values, type), out, "the result");
      out.setInt(lenPos, out.size() - lenPos - 4);
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
      ByteBuffer m = WorkerProtocol.output(stream, buffer.array(), 0, buffer.size());
      buffer.reset();
      connection.write(m);
      try {
        connection.flush();
      } catch (IOException e) {
        // The connection is gone; onClosed handles it.
      }
    }
  }

  /**
   * Runs a no-op task through this worker's decode, call and encode steps, without the connection: a
   * worker that writes a class-data archive calls it before it exits, so that the archive (which
   * serves every later worker) holds the first-task path even when this worker ran no task. Does
   * nothing before the pool's INIT arrived; never throws.
   */
  public void rehearseTask() {
    Payloads p = payloads;
    if (p == null) {
      return;
    }
    try {
      Buf task = new Buf(256);
      p.encode((SerializableCallable<Long>) WorkerRuntime::rehearsal, task, "the rehearsal task");
      Object fn = p.decode(task.toByteBuffer(), "the rehearsal task");
      Object value = ((SerializableCallable<?>) fn).call();
      p.encode(value, new Buf(64), "the rehearsal result");
    } catch (Exception | LinkageError e) {
      // A serial filter that rejects it, say: the archive then lacks a few classes, nothing more.
    }
  }

  private static Long rehearsal() {
    return 1L;
  }
}
