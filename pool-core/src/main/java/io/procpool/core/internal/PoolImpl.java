package io.procpool.core.internal;

import com.google.common.util.concurrent.ThreadFactoryBuilder;
import io.procpool.api.AsyncResult;
import io.procpool.api.PoolClosedException;
import io.procpool.api.PoolTerminatedException;
import io.procpool.api.ProcPoolException;
import io.procpool.api.ProcessPool;
import io.procpool.api.SerializableCallable;
import io.procpool.api.SerializableFunction;
import io.procpool.api.SerializableRunnable;
import io.procpool.api.TaskFailedException;
import io.procpool.api.TaskSerializationException;
import io.procpool.api.TaskTimeoutException;
import io.procpool.api.WorkerCrashedException;
import io.procpool.api.WorkerStartException;
import io.procpool.api.spi.CodecRegistry;
import io.procpool.api.spi.Connection;
import io.procpool.api.spi.PoolOptions;
import io.procpool.api.spi.ProtocolException;
import io.procpool.api.spi.TransportOptions;
import io.procpool.api.spi.TransportProvider;
import io.procpool.api.spi.TransportRegistry;
import io.procpool.api.spi.TransportServer;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;

/**
 * The parent side of a pool: the scheduler. Tasks wait in one queue and are dispatched to workers
 * with free credit (a bounded number of tasks in flight per worker, adapted to how long tasks take);
 * results complete futures on the transport's reader thread; callbacks run on one callback thread.
 *
 * <p>All mutable scheduling state is guarded by {@link #lock}. Writes to connections only queue, so
 * they happen under the lock in dispatch order; flushes (which may block) happen outside it.
 */
public final class PoolImpl implements ProcessPool {
  private static final System.Logger LOG = System.getLogger("io.procpool");
  private static final AtomicInteger POOL_IDS = new AtomicInteger();
  private static final Duration START_TIMEOUT = Duration.ofSeconds(60);
  private static final Duration BUILD_TIMEOUT = Duration.ofSeconds(120);
  private static final int MAX_START_FAILURES = 3;
  private static final Duration GRACEFUL_EXIT = Duration.ofSeconds(20);
  /** Queued work per worker that dispatch aims for: enough to hide a round trip, not to hoard. */
  private static final double QUEUE_BUDGET_NANOS = 1_000_000;
  private static final int MAX_IN_FLIGHT = 64;
  /** The worker id of workers the pool did not start. */
  static final int EXTERNAL_WORKER_ID = -1;

  private enum State { RUNNING, CLOSING, CLOSED, TERMINATED }

  private final PoolOptions options;
  private final int poolId = POOL_IDS.incrementAndGet();
  private final TransportProvider provider;
  private final Wire wire;
  private final FunctionTable functions;
  private final ByteBuffer initMessage;
  private final ExecutorService callbackExecutor;
  private final ScheduledThreadPoolExecutor timer;
  private final TransportServer server;
  private final WorkerLauncher launcher;
  private final CompletableFuture<Void> firstReady = new CompletableFuture<>();
  private final AtomicLong taskIds = new AtomicLong();
  private volatile Thread callbackThread;
  /** Exit futures of launched workers whose process has not exited yet. */
  private final java.util.Set<CompletableFuture<Integer>> liveProcesses =
      java.util.concurrent.ConcurrentHashMap.newKeySet();

  private final ReentrantLock lock = new ReentrantLock();
  private final Condition workersChanged = lock.newCondition();
  private final ArrayDeque<Task> pending = new ArrayDeque<>();
  private final Map<Integer, Worker> workers = new LinkedHashMap<>();
  private State state = State.RUNNING;
  private WorkerStartException broken;
  private int nextWorkerId;
  private int startFailures;
  private double avgTaskNanos;
  private long assignments;

  private PoolImpl(PoolOptions options) throws IOException {
    this.options = options;
    this.provider = TransportRegistry.get(options.transport());
    ClassLoader loader = Thread.currentThread().getContextClassLoader() != null
        ? Thread.currentThread().getContextClassLoader() : PoolImpl.class.getClassLoader();
    this.wire = new Wire(CodecRegistry.get(options.codec()),
        SerialFilters.create(options.serialFilter().orElse(null), options.maxFrameSize()), loader);
    this.functions = new FunctionTable(wire, options.maxFrameSize());
    Buf init = new Buf(256).put(Protocol.INIT).putString(options.codec())
        .putString(options.serialFilter().orElse(null)).put(1).putLong(options.maxMemoryPerChild());
    int lenPos = init.size();
    init.putInt(0);
    if (options.initializer().isPresent()) {
      wire.encode(options.initializer().get(), init, "the initializer");
      init.setInt(lenPos, init.size() - lenPos - 4);
    }
    this.initMessage = init.toByteBuffer().asReadOnlyBuffer();
    this.callbackExecutor = Executors.newSingleThreadExecutor(r -> {
      Thread t = new ThreadFactoryBuilder().setDaemon(true)
          .setNameFormat("procpool-" + poolId + "-callbacks").build().newThread(r);
      callbackThread = t;
      return t;
    });
    this.timer = new ScheduledThreadPoolExecutor(1,
        new ThreadFactoryBuilder().setDaemon(true).setNameFormat("procpool-" + poolId + "-timer").build());
    timer.setRemoveOnCancelPolicy(true);
    byte[] key = options.authKey().orElseGet(() -> {
      byte[] k = new byte[32];
      new SecureRandom().nextBytes(k);
      return k;
    });
    this.server = provider.listen(
        new TransportOptions(key, options.maxFrameSize(), options.listenAddress().orElse(null),
            options.transportProperties()),
        this::onConnection);
    this.launcher = provider.workersInProcess()
        ? new ThreadLauncher(provider, key, options.maxFrameSize())
        : new ProcessLauncher(provider.name(),
            options.workerClasspath().orElse(System.getProperty("java.class.path")),
            options.jvmOptions(), key, options.maxFrameSize());
  }

  /** Starts a pool and waits until its first worker can take tasks. */
  public static PoolImpl start(PoolOptions options) {
    PoolImpl pool;
    try {
      pool = new PoolImpl(options);
    } catch (IOException e) {
      throw new WorkerStartException("cannot open the '" + options.transport() + "' transport: " + e.getMessage(), e);
    }
    for (int i = 0; i < options.processes(); i++) {
      pool.spawnWorker();
    }
    try {
      pool.firstReady.get(BUILD_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
    } catch (ExecutionException e) {
      pool.terminate();
      Throwable cause = e.getCause();
      throw cause instanceof WorkerStartException
          ? new WorkerStartException(cause.getMessage(), cause.getCause())
          : new WorkerStartException("workers failed to start: " + cause, cause);
    } catch (TimeoutException e) {
      pool.terminate();
      throw new WorkerStartException("no worker became ready within " + BUILD_TIMEOUT.toSeconds() + " s");
    } catch (InterruptedException e) {
      pool.terminate();
      Thread.currentThread().interrupt();
      throw new WorkerStartException("interrupted while starting workers");
    }
    return pool;
  }

  // ------------------------------------------------------------------ worker lifecycle

  private void spawnWorker() {
    Worker w;
    lock.lock();
    try {
      if (state == State.TERMINATED || state == State.CLOSED || broken != null) {
        return;
      }
      w = new Worker(nextWorkerId++);
      workers.put(w.id, w);
    } finally {
      lock.unlock();
    }
    WorkerLauncher.Launched launched;
    try {
      launched = launcher.launch(w.id, server.address());
    } catch (IOException | RuntimeException e) {
      workerLost(w, new WorkerStartException("cannot launch a worker: " + e.getMessage(), e));
      return;
    }
    boolean tooLate;
    lock.lock();
    try {
      w.process = launched;
      w.pid = launched.pid();
      // terminate() or a failure may have come while the process was being launched.
      tooLate = state == State.TERMINATED || w.state == Worker.State.DEAD;
      if (!tooLate && w.state == Worker.State.STARTING) {
        w.startTimeout = timer.schedule(() -> startTimedOut(w), START_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
      }
    } finally {
      lock.unlock();
    }
    if (tooLate) {
      launched.kill();
    }
    CompletableFuture<Integer> exit = launched.onExit();
    liveProcesses.add(exit);
    exit.whenComplete((code, e) -> {
      liveProcesses.remove(exit);
      onProcessExit(w);
    });
  }

  private void startTimedOut(Worker w) {
    lock.lock();
    try {
      if (w.state != Worker.State.STARTING) {
        return;
      }
    } finally {
      lock.unlock();
    }
    LOG.log(System.Logger.Level.WARNING, "procpool: " + w + " did not become ready within "
        + START_TIMEOUT.toSeconds() + " s; killing it");
    kill(w);
  }

  private void onProcessExit(Worker w) {
    boolean connected;
    lock.lock();
    try {
      if (w.state == Worker.State.DEAD) {
        return;
      }
      connected = w.connection != null;
    } finally {
      lock.unlock();
    }
    if (!connected) {
      workerLost(w, null);
    } else {
      // Normally the end of the connection reports the death, after the last results were read.
      // If the connection somehow outlives the process, do not wait forever.
      later(() -> workerLost(w, new IOException("the worker exited but its connection stayed open")), 2000);
    }
  }

  private void kill(Worker w) {
    Connection c;
    WorkerLauncher.Launched p;
    lock.lock();
    try {
      c = w.connection;
      p = w.process;
    } finally {
      lock.unlock();
    }
    // Connection first: nothing the worker sends from now on is delivered.
    if (c != null) {
      c.close();
    }
    if (p != null) {
      p.kill();
    }
  }

  private void onConnection(Connection connection) {
    connection.start(new Channel(connection));
  }

  /** Receives one worker's messages. */
  private final class Channel implements Connection.Listener {
    private final Connection connection;
    private Worker worker;

    Channel(Connection connection) {
      this.connection = connection;
    }

    @Override
    public void onMessage(ByteBuffer m) {
      try {
        byte type = m.get();
        if (worker == null) {
          if (type != Protocol.HELLO) {
            throw new ProtocolException("expected HELLO, got message type " + type);
          }
          hello(m);
          return;
        }
        switch (type) {
          case Protocol.RESULT:
            onResult(worker, m);
            break;
          case Protocol.OUTPUT:
            onOutput(m);
            break;
          case Protocol.READY:
            onReady(worker);
            break;
          case Protocol.RETIRE:
            onRetire(worker);
            break;
          case Protocol.INIT_FAILED:
            onInitFailed(worker, m);
            break;
          default:
            throw new ProtocolException("unexpected message type " + type);
        }
      } catch (IOException | RuntimeException e) {
        LOG.log(System.Logger.Level.WARNING, "procpool: closing " + (worker != null ? worker : connection.describe())
            + " after a protocol error: " + e);
        ProtocolException error = e instanceof ProtocolException ? (ProtocolException) e
            : new ProtocolException("malformed message: " + e, e);
        connection.close(error); // first, so that the peer is told why where the transport can
        Worker w = worker;
        if (w != null) {
          workerLost(w, error);
          kill(w);
        }
      }
    }

    private void hello(ByteBuffer m) throws ProtocolException {
      if (m.remaining() < 16) {
        throw new ProtocolException("truncated HELLO (" + m.remaining() + " bytes after the type, expected 16)");
      }
      int version = m.getInt();
      int workerId = m.getInt();
      long pid = m.getLong();
      if (version != Protocol.VERSION) {
        throw new ProtocolException("worker speaks protocol version " + version + ", this pool speaks "
            + Protocol.VERSION + " (mixed procpool versions on the classpath?)");
      }
      lock.lock();
      try {
        Worker w;
        if (workerId == EXTERNAL_WORKER_ID) {
          // A worker started by hand (e.g. on another host) that proved the key: it joins the pool.
          if (state != State.RUNNING && state != State.CLOSING) {
            throw new ProtocolException("the pool is shutting down; worker pid " + pid + " cannot join");
          }
          w = new Worker(nextWorkerId++);
          w.external = true;
          workers.put(w.id, w);
        } else {
          w = workers.get(workerId);
          if (w == null || w.state != Worker.State.STARTING || w.connection != null
              || (!provider.workersInProcess() && w.pid > 0 && w.pid != pid)) {
            throw new ProtocolException("unexpected worker " + workerId + " (pid " + pid + ")");
          }
        }
        w.connection = connection;
        w.pid = pid;
        worker = w;
      } finally {
        lock.unlock();
      }
      connection.write(initMessage.duplicate());
      try {
        connection.flush();
      } catch (IOException e) {
        // onClosed reports it
      }
    }

    @Override
    public void onReadComplete() {
      if (worker != null) {
        dispatchAndFlush();
      }
    }

    @Override
    public void onClosed(Throwable cause) {
      Worker w = worker;
      if (w != null) {
        workerLost(w, cause);
      }
    }
  }

  private void onReady(Worker w) {
    lock.lock();
    try {
      if (w.state != Worker.State.STARTING) {
        return;
      }
      w.state = Worker.State.READY;
      startFailures = 0;
      if (w.startTimeout != null) {
        w.startTimeout.cancel(false);
      }
      stopIdleWorkersIfClosingLocked();
    } finally {
      lock.unlock();
    }
    firstReady.complete(null);
  }

  /** The worker passed maxMemoryPerChild: let it finish what it holds, then replace it. */
  private void onRetire(Worker w) {
    boolean replace = false;
    lock.lock();
    try {
      if (w.state != Worker.State.READY) {
        return;
      }
      w.state = Worker.State.RETIRING;
      if (w.inflight.isEmpty()) {
        stopWorkerLocked(w);
        replace = true;
      }
    } finally {
      lock.unlock();
    }
    if (replace) {
      spawnWorker();
    }
  }

  private void onInitFailed(Worker w, ByteBuffer m) {
    Wire.DecodedError e = wire.decodeError(m);
    breakPool(new WorkerStartException("the pool's initializer failed in worker pid " + w.pid + ": "
        + e.error, e.error));
  }

  private void onOutput(ByteBuffer m) {
    byte stream = m.get();
    byte[] bytes = new byte[m.remaining()];
    m.get(bytes);
    java.io.PrintStream out = stream == Protocol.STREAM_ERR ? System.err : System.out;
    out.write(bytes, 0, bytes.length);
    out.flush();
  }

  /** Marks the pool unable to run tasks; queued tasks fail with {@code cause}. */
  private void breakPool(WorkerStartException cause) {
    List<Task> failed;
    lock.lock();
    try {
      if (broken != null) {
        return;
      }
      broken = cause;
      failed = drainPendingLocked();
      stopIdleWorkersIfClosingLocked();
      for (Worker w : workers.values()) {
        if (w.state == Worker.State.STARTING) {
          w.killedFor = cause;
        }
      }
    } finally {
      lock.unlock();
    }
    firstReady.completeExceptionally(cause);
    for (Task t : failed) {
      t.onFailure(cause, false);
    }
    for (Worker w : snapshotWorkers()) {
      if (w.state == Worker.State.STARTING) {
        kill(w);
      }
    }
  }

  private List<Worker> snapshotWorkers() {
    lock.lock();
    try {
      return new ArrayList<>(workers.values());
    } finally {
      lock.unlock();
    }
  }

  /**
   * The worker is gone (or must be treated so): fail its tasks, replace it if the pool still needs it.
   * Idempotent.
   */
  private void workerLost(Worker w, Throwable cause) {
    List<Task> lost;
    boolean replace;
    Worker.State previous;
    WorkerStartException giveUp = null;
    lock.lock();
    try {
      if (w.state == Worker.State.DEAD) {
        return;
      }
      previous = w.state;
      w.state = Worker.State.DEAD;
      workers.remove(w.id);
      if (w.startTimeout != null) {
        w.startTimeout.cancel(false);
      }
      lost = new ArrayList<>(w.inflight.size());
      List<Task> retried = new ArrayList<>();
      boolean retryable = (state == State.RUNNING || state == State.CLOSING) && broken == null
          && !(w.killedFor instanceof PoolTerminatedException);
      for (Task t : w.inflight) {
        t.worker = null;
        if (t.timeout != null) {
          t.timeout.cancel(false);
        }
        if (t.done) {
          continue;
        }
        if (retryable && t != w.killedTask && t.attempts < options.retryOnCrash()) {
          t.attempts++;
          retried.add(t);
        } else {
          t.done = true;
          lost.add(t);
        }
      }
      w.inflight.clear();
      for (int i = retried.size() - 1; i >= 0; i--) {
        pending.addFirst(retried.get(i));
      }
      boolean active = state == State.RUNNING || (state == State.CLOSING && !pending.isEmpty());
      replace = active && broken == null && previous != Worker.State.STOPPING && !w.external;
      if (previous == Worker.State.STARTING && replace && w.killedFor == null) {
        if (++startFailures >= MAX_START_FAILURES) {
          replace = false;
          giveUp = startFailure(w, cause);
        }
      }
      workersChanged.signalAll();
    } finally {
      lock.unlock();
    }
    if (previous == Worker.State.STOPPING && w.process != null) {
      // It was told to exit and is doing so (running shutdown hooks, maybe writing its class-data
      // archive): let it, but not forever.
      WorkerLauncher.Launched p = w.process;
      later(p::kill, GRACEFUL_EXIT.toMillis());
    } else {
      kill(w);
    }
    if (giveUp != null) {
      breakPool(giveUp);
    }
    if (!lost.isEmpty()) {
      failLostTasks(w, lost, cause);
    }
    if (replace) {
      spawnWorker();
    }
    dispatchAndFlush();
  }

  private WorkerStartException startFailure(Worker w, Throwable cause) {
    Integer code = exitCode(w);
    String tail = w.process == null ? "" : w.process.stderrTail();
    return new WorkerStartException(MAX_START_FAILURES + " workers in a row failed to start"
        + (code != null ? "; the last " + WorkerCrashedException.describeExitCode(code) : "")
        + (cause != null ? "; " + cause.getMessage() : "")
        + (tail.isEmpty() ? "" : "; its stderr ended with:\n" + tail), cause);
  }

  private static Integer exitCode(Worker w) {
    if (w.process == null) {
      return null;
    }
    try {
      return w.process.onExit().getNow(null);
    } catch (RuntimeException e) {
      return null;
    }
  }

  private void failLostTasks(Worker w, List<Task> lost, Throwable cause) {
    CompletableFuture<Integer> exit = w.process == null
        ? CompletableFuture.completedFuture(null)
        : w.process.onExit().copy().completeOnTimeout(null, 1, TimeUnit.SECONDS).exceptionally(e -> null);
    exit.thenAccept(code -> {
      String how = code == null ? "died" : WorkerCrashedException.describeExitCode(code);
      for (Task t : lost) {
        if (t == w.killedTask && w.killedFor != null) {
          t.onFailure(w.killedFor, false);
        } else if (w.killedFor instanceof TaskTimeoutException || w.killedFor instanceof CancelledMarker) {
          t.onFailure(new WorkerCrashedException("task " + t.id + " was queued on worker pid " + w.pid
              + ", which was killed to stop task " + (w.killedTask != null ? w.killedTask.id : -1)
              + " (" + w.killedFor.getMessage() + ")", w.pid, code, null), false);
        } else if (w.killedFor != null) {
          t.onFailure(w.killedFor, false);
        } else {
          t.onFailure(new WorkerCrashedException("worker pid " + w.pid + " " + how + " while running task "
              + t.id + (cause != null ? " (" + cause.getMessage() + ")" : ""), w.pid, code, cause), false);
        }
      }
    });
  }

  /** Stands in for "killed to cancel" in {@link Worker#killedFor}. */
  private static final class CancelledMarker extends ProcPoolException {
    private static final long serialVersionUID = 1L;

    CancelledMarker() {
      super("cancelled");
    }
  }

  // ------------------------------------------------------------------ dispatch

  private int inFlightLimit() {
    if (options.taskTimeout().isPresent() || avgTaskNanos <= 0) {
      return 1;
    }
    return (int) Math.max(1, Math.min(MAX_IN_FLIGHT, QUEUE_BUDGET_NANOS / avgTaskNanos));
  }

  /** Assigns queued tasks to workers with free credit. Returns the workers written to. */
  private List<Worker> dispatchLocked() {
    List<Worker> written = null;
    int limit = inFlightLimit();
    while (!pending.isEmpty()) {
      // The least loaded worker; among equals the one that got work longest ago, so that work
      // spreads over the workers as it does with Python's shared task queue.
      Worker best = null;
      for (Worker w : workers.values()) {
        if (w.state == Worker.State.READY && w.inflight.size() < limit
            && (best == null || w.inflight.size() < best.inflight.size()
                || (w.inflight.size() == best.inflight.size() && w.lastAssigned < best.lastAssigned))) {
          best = w;
        }
      }
      if (best == null) {
        break;
      }
      Task t = pending.pollFirst();
      assignLocked(best, t);
      if (!best.needsFlush) {
        best.needsFlush = true;
        if (written == null) {
          written = new ArrayList<>(2);
        }
        written.add(best);
      }
    }
    return written;
  }

  private void assignLocked(Worker w, Task t) {
    w.ensureDefined(t.function);
    w.connection.write(t.message());
    w.inflight.addLast(t);
    t.worker = w;
    w.dispatched++;
    w.lastAssigned = ++assignments;
    if (options.taskTimeout().isPresent()) {
      Duration timeout = options.taskTimeout().get();
      t.timeout = timer.schedule(() -> onTimeout(t, timeout), timeout.toNanos(), TimeUnit.NANOSECONDS);
    }
    if (options.maxTasksPerChild() > 0 && w.dispatched >= options.maxTasksPerChild()) {
      w.state = Worker.State.RETIRING;
    }
  }

  private void flush(List<Worker> written) {
    if (written == null) {
      return;
    }
    for (Worker w : written) {
      Connection c;
      lock.lock();
      try {
        w.needsFlush = false;
        c = w.connection;
      } finally {
        lock.unlock();
      }
      try {
        c.flush();
      } catch (IOException e) {
        // The connection's onClosed reports the loss.
      }
    }
  }

  private void dispatchAndFlush() {
    List<Worker> written;
    lock.lock();
    try {
      written = dispatchLocked();
      stopIdleWorkersIfClosingLocked();
    } finally {
      lock.unlock();
    }
    flush(written);
  }

  private void enqueue(Task task) {
    List<Worker> written;
    lock.lock();
    try {
      checkAcceptingLocked();
      pending.addLast(task);
      written = dispatchLocked();
    } finally {
      lock.unlock();
    }
    flush(written);
  }

  private void enqueueAll(Collection<? extends Task> tasks) {
    List<Worker> written;
    lock.lock();
    try {
      checkAcceptingLocked();
      pending.addAll(tasks);
      written = dispatchLocked();
    } finally {
      lock.unlock();
    }
    flush(written);
  }

  private void checkAcceptingLocked() {
    if (state != State.RUNNING) {
      throw state == State.TERMINATED
          ? new PoolClosedException("the pool was terminated; it takes no new tasks")
          : new PoolClosedException("the pool is closed; it takes no new tasks");
    }
    if (broken != null) {
      throw new WorkerStartException("the pool cannot run tasks: " + broken.getMessage(), broken);
    }
  }

  private List<Task> drainPendingLocked() {
    List<Task> drained = new ArrayList<>(pending);
    pending.clear();
    for (Task t : drained) {
      t.done = true;
    }
    return drained;
  }

  // ------------------------------------------------------------------ results

  private void onResult(Worker w, ByteBuffer m) throws ProtocolException {
    long taskId = m.getLong();
    long execNanos = m.getLong();
    byte status = m.get();
    Object value = null;
    List<Object> values = null;
    Throwable failure = null;
    boolean thrownByTask = false;
    switch (status) {
      case Protocol.STATUS_OK:
        try {
          value = wire.decode(m, "the result of task ", taskId);
        } catch (TaskSerializationException e) {
          failure = e;
        }
        break;
      case Protocol.STATUS_ERROR: {
        Wire.DecodedError e = wire.decodeError(m);
        failure = e.error;
        thrownByTask = e.origin == Protocol.ORIGIN_TASK;
        break;
      }
      case Protocol.STATUS_CHUNK: {
        int n = m.getInt();
        if (n < 0 || n > m.remaining()) {
          throw new ProtocolException("bad chunk size " + n);
        }
        values = new ArrayList<>(n);
        try {
          int limit = m.limit();
          for (int i = 0; i < n; i++) {
            int len = m.getInt();
            int end = m.position() + len;
            if (len < 0 || end > limit) {
              throw new ProtocolException("bad value length " + len + " in task " + taskId);
            }
            m.limit(end);
            values.add(wire.decode(m, "a result of task ", taskId));
            m.limit(limit);
            m.position(end);
          }
          if (m.get() != 0) {
            Wire.DecodedError e = wire.decodeError(m);
            failure = e.error;
            thrownByTask = e.origin == Protocol.ORIGIN_TASK;
          }
        } catch (TaskSerializationException e) {
          failure = e;
          thrownByTask = false;
        }
        break;
      }
      default:
        throw new ProtocolException("bad result status " + status);
    }
    Task t;
    boolean deliver;
    lock.lock();
    try {
      if (w.killedFor != null) {
        return; // the pool is killing this worker: its tasks get the outcome of that decision
      }
      t = w.inflight.peekFirst();
      if (t == null || t.id != taskId) {
        throw new ProtocolException("result for task " + taskId + " from " + w + ", which was not expected");
      }
      w.inflight.pollFirst();
      t.worker = null;
      deliver = !t.done;
      t.done = true;
      if (t.timeout != null) {
        t.timeout.cancel(false);
      }
      avgTaskNanos = avgTaskNanos <= 0 ? execNanos : avgTaskNanos * 0.9 + execNanos * 0.1;
      if (w.state == Worker.State.RETIRING && w.inflight.isEmpty()) {
        stopWorkerLocked(w);
        deliverLater(this::spawnWorker);
      }
    } finally {
      lock.unlock();
    }
    if (!deliver) {
      return;
    }
    if (values != null) {
      t.onChunk(values, failure, thrownByTask);
    } else if (failure != null) {
      t.onFailure(failure, thrownByTask);
    } else {
      t.onValue(value);
    }
  }

  private void deliverLater(Runnable r) {
    later(r, 0);
  }

  /**
   * Runs {@code r} on the timer after {@code delayMillis}; once the pool has finished and its timer
   * is shut down, runs it now instead (these are clean-up steps that must not be lost).
   */
  private void later(Runnable r, long delayMillis) {
    try {
      timer.schedule(r, delayMillis, TimeUnit.MILLISECONDS);
    } catch (java.util.concurrent.RejectedExecutionException e) {
      r.run();
    }
  }

  private void stopWorkerLocked(Worker w) {
    w.state = Worker.State.STOPPING;
    w.connection.write(ByteBuffer.wrap(new byte[] {Protocol.SHUTDOWN}));
    Connection c = w.connection;
    deliverLater(() -> {
      try {
        c.flush();
      } catch (IOException e) {
        // onClosed reports it
      }
    });
  }

  private void stopIdleWorkersIfClosingLocked() {
    if (state != State.CLOSING || !pending.isEmpty()) {
      return;
    }
    for (Worker w : workers.values()) {
      if ((w.state == Worker.State.READY || w.state == Worker.State.RETIRING) && w.inflight.isEmpty()) {
        stopWorkerLocked(w);
      }
    }
  }

  private void onTimeout(Task t, Duration timeout) {
    Worker w;
    lock.lock();
    try {
      if (t.done || t.worker == null) {
        return;
      }
      w = t.worker;
      w.killedTask = t;
      w.killedFor = new TaskTimeoutException("task " + t.id + " ran longer than the pool's taskTimeout of "
          + timeout + "; its worker pid " + w.pid + " was killed and replaced", timeout, w.pid);
    } finally {
      lock.unlock();
    }
    kill(w);
  }

  /** Cancels {@code t}; see {@link AsyncResult#cancel}. */
  boolean cancel(Task t, boolean mayInterruptIfRunning) {
    Worker kill = null;
    lock.lock();
    try {
      if (t.done) {
        return false;
      }
      t.done = true;
      if (t.worker == null) {
        pending.remove(t);
      } else if (mayInterruptIfRunning && t.worker.inflight.peekFirst() == t && t.worker.killedFor == null) {
        kill = t.worker;
        kill.killedTask = t;
        kill.killedFor = new CancelledMarker();
      }
      if (t.timeout != null) {
        t.timeout.cancel(false);
      }
    } finally {
      lock.unlock();
    }
    t.onCancelled();
    if (kill != null) {
      kill(kill);
    }
    return true;
  }

  // ------------------------------------------------------------------ submission

  private <R> SingleTask<R> single(Object fn, byte kind, Object arg, boolean hasArg) {
    FunctionTable.Entry entry = functions.entry(fn);
    long id = taskIds.incrementAndGet();
    Buf b = new Buf(hasArg ? 64 : Protocol.TASK_HEADER).put(Protocol.TASK).putLong(id).putInt(entry.id).put(kind);
    if (hasArg) {
      wire.encode(arg, b, "the task argument");
      checkFrame(b, "the task argument");
    }
    return new SingleTask<>(this, id, entry, b.toByteBuffer(), callbackExecutor);
  }

  private void checkFrame(Buf b, String what) {
    if (b.size() > options.maxFrameSize()) {
      throw new TaskSerializationException(what + " is " + b.size() + " bytes encoded, over maxFrameSize "
          + options.maxFrameSize());
    }
  }

  private <R> AsyncResult<R> submit(SingleTask<R> t, Consumer<? super R> cb, Consumer<? super Throwable> ecb) {
    t.result.callbacks(cb, ecb);
    enqueue(t);
    return t.result;
  }

  @Override
  public <R> R apply(SerializableCallable<R> task) {
    return await(applyAsync(task));
  }

  @Override
  public <T, R> R apply(SerializableFunction<T, R> fn, T arg) {
    return await(applyAsync(fn, arg));
  }

  @Override
  public void apply(SerializableRunnable task) {
    await(applyAsync(task));
  }

  @Override
  public <R> AsyncResult<R> applyAsync(SerializableCallable<R> task) {
    return applyAsync(task, null, null);
  }

  @Override
  public <R> AsyncResult<R> applyAsync(
      SerializableCallable<R> task, Consumer<? super R> callback, Consumer<? super Throwable> errorCallback) {
    return submit(single(requireTask(task), Protocol.KIND_CALL, null, false), callback, errorCallback);
  }

  @Override
  public <T, R> AsyncResult<R> applyAsync(SerializableFunction<T, R> fn, T arg) {
    return applyAsync(fn, arg, null, null);
  }

  @Override
  public <T, R> AsyncResult<R> applyAsync(
      SerializableFunction<T, R> fn, T arg, Consumer<? super R> callback, Consumer<? super Throwable> errorCallback) {
    return submit(single(requireTask(fn), Protocol.KIND_APPLY, arg, true), callback, errorCallback);
  }

  @Override
  public AsyncResult<Void> applyAsync(SerializableRunnable task) {
    return submit(single(requireTask(task), Protocol.KIND_RUN, null, false), null, null);
  }

  private static <F> F requireTask(F task) {
    if (task == null) {
      throw new NullPointerException("task");
    }
    return task;
  }

  private static <R> R await(AsyncResult<R> result) {
    try {
      return result.get();
    } catch (InterruptedException e) {
      result.cancel(false);
      Thread.currentThread().interrupt();
      throw new ProcPoolException("interrupted while waiting for a task; the task was cancelled", e);
    } catch (ExecutionException e) {
      throw rethrow(e.getCause(), ((AsyncResultImpl<R>) result).taskThrew());
    }
  }

  static RuntimeException rethrow(Throwable cause, boolean thrownByTask) {
    if (thrownByTask) {
      return new TaskFailedException("the task failed: " + cause, cause);
    }
    if (cause instanceof RuntimeException) {
      return (RuntimeException) cause;
    }
    return new ProcPoolException(String.valueOf(cause), cause);
  }

  // ------------------------------------------------------------------ map

  private static int defaultChunksize(int n, int processes) {
    int chunks = processes * 4;
    return Math.max(1, n / chunks + (n % chunks == 0 ? 0 : 1));
  }

  @Override
  public <T, R> List<R> map(SerializableFunction<T, R> fn, Iterable<? extends T> items) {
    return await(mapAsync(fn, items));
  }

  @Override
  public <T, R> List<R> map(SerializableFunction<T, R> fn, Iterable<? extends T> items, int chunksize) {
    return await(mapAsync(fn, items, chunksize));
  }

  @Override
  public <T, R> AsyncResult<List<R>> mapAsync(SerializableFunction<T, R> fn, Iterable<? extends T> items) {
    return mapAsync(fn, items, 0, null, null);
  }

  @Override
  public <T, R> AsyncResult<List<R>> mapAsync(
      SerializableFunction<T, R> fn, Iterable<? extends T> items, int chunksize) {
    checkChunksize(chunksize);
    return mapAsync(fn, items, chunksize, null, null);
  }

  @Override
  public <T, R> AsyncResult<List<R>> mapAsync(
      SerializableFunction<T, R> fn,
      Iterable<? extends T> items,
      int chunksize,
      Consumer<? super List<R>> callback,
      Consumer<? super Throwable> errorCallback) {
    requireTask(fn);
    List<? extends T> list = items instanceof List ? (List<? extends T>) items : copy(items);
    int n = list.size();
    int size = chunksize > 0 ? chunksize : defaultChunksize(n, options.processes());
    FunctionTable.Entry entry = functions.entry(fn);
    MapResult<R> map = new MapResult<>(this, n, callbackExecutor);
    List<ChunkTask> chunks = new ArrayList<>(n / size + 1);
    for (int from = 0, index = 0; from < n; from += size, index++) {
      int to = Math.min(n, from + size);
      chunks.add(chunk(entry, list.subList(from, to).iterator(), to - from, from, map, index));
    }
    map.start(chunks);
    map.result.callbacks(callback, errorCallback);
    if (!chunks.isEmpty()) {
      enqueueAll(chunks);
    }
    return map.result;
  }

  private static void checkChunksize(int chunksize) {
    if (chunksize < 1) {
      throw new IllegalArgumentException("chunksize must be at least 1, got " + chunksize);
    }
  }

  private static <T> List<T> copy(Iterable<? extends T> items) {
    List<T> l = new ArrayList<>();
    items.forEach(l::add);
    return l;
  }

  /** Encodes {@code count} items from {@code it} as one CHUNK task; {@code first} is for messages. */
  ChunkTask chunk(FunctionTable.Entry entry, Iterator<?> it, int count, int first, ChunkTask.Sink sink, int index) {
    long id = taskIds.incrementAndGet();
    Buf b = new Buf(Protocol.TASK_HEADER + 4 + count * 16).put(Protocol.TASK).putLong(id).putInt(entry.id)
        .put(Protocol.KIND_CHUNK).putInt(count);
    for (int i = 0; i < count; i++) {
      Object item = it.next();
      int lenPos = b.size();
      b.putInt(0);
      wire.encode(item, b, "item #", first + i);
      b.setInt(lenPos, b.size() - lenPos - 4);
    }
    checkFrame(b, "a chunk of " + count + " items starting at #" + first);
    return new ChunkTask(id, entry, b.toByteBuffer(), sink, index, count);
  }

  FunctionTable.Entry functionEntry(Object fn) {
    return functions.entry(fn);
  }

  void submitChunk(ChunkTask t) {
    enqueue(t);
  }

  @Override
  public <T, R> Iterator<R> imap(SerializableFunction<T, R> fn, Iterable<? extends T> items) {
    return new ImapIterator<>(this, requireTask(fn), items.iterator(), 1, true, window());
  }

  @Override
  public <T, R> Iterator<R> imap(SerializableFunction<T, R> fn, Iterable<? extends T> items, int chunksize) {
    checkChunksize(chunksize);
    return new ImapIterator<>(this, requireTask(fn), items.iterator(), chunksize, true, window());
  }

  @Override
  public <T, R> Iterator<R> imapUnordered(SerializableFunction<T, R> fn, Iterable<? extends T> items) {
    return new ImapIterator<>(this, requireTask(fn), items.iterator(), 1, false, window());
  }

  @Override
  public <T, R> Iterator<R> imapUnordered(
      SerializableFunction<T, R> fn, Iterable<? extends T> items, int chunksize) {
    checkChunksize(chunksize);
    return new ImapIterator<>(this, requireTask(fn), items.iterator(), chunksize, false, window());
  }

  private int window() {
    return Math.max(16, options.processes() * 2 * MAX_IN_FLIGHT);
  }

  // ------------------------------------------------------------------ lifecycle

  @Override
  public void close() {
    lock.lock();
    try {
      if (state == State.RUNNING) {
        state = State.CLOSING;
        stopIdleWorkersIfClosingLocked();
      }
    } finally {
      lock.unlock();
    }
    awaitWorkersGone(null);
    finish(State.CLOSED);
  }

  @Override
  public void terminate() {
    List<Task> failed = new ArrayList<>();
    List<Worker> victims;
    PoolTerminatedException reason = new PoolTerminatedException("the pool was terminated");
    lock.lock();
    try {
      if (state != State.TERMINATED && state != State.CLOSED) {
        state = State.TERMINATED;
        failed.addAll(drainPendingLocked());
        for (Worker w : workers.values()) {
          for (Task t : w.inflight) {
            if (!t.done) {
              t.done = true;
              failed.add(t);
            }
          }
          w.killedFor = reason;
        }
      }
      victims = new ArrayList<>(workers.values());
    } finally {
      lock.unlock();
    }
    for (Task t : failed) {
      t.onFailure(reason, false);
    }
    firstReady.completeExceptionally(reason);
    for (Worker w : victims) {
      kill(w);
    }
    awaitWorkersGone(Duration.ofSeconds(30));
    finish(State.TERMINATED);
  }

  @Override
  public void join() {
    lock.lock();
    try {
      if (state == State.RUNNING) {
        throw new IllegalStateException("join() needs close() or terminate() first");
      }
    } finally {
      lock.unlock();
    }
    awaitWorkersGone(null);
  }

  private void awaitWorkersGone(Duration limit) {
    long deadline = limit == null ? Long.MAX_VALUE : System.nanoTime() + limit.toNanos();
    lock.lock();
    try {
      while (!workers.isEmpty()) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          LOG.log(System.Logger.Level.WARNING, "procpool: workers still alive after " + limit + ": " + workers.values());
          return;
        }
        workersChanged.awaitNanos(Math.min(left, TimeUnit.SECONDS.toNanos(1)));
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return;
    } finally {
      lock.unlock();
    }
    // A worker leaves the pool when its connection ends; its process may take a moment more.
    try {
      CompletableFuture.allOf(liveProcesses.toArray(new CompletableFuture<?>[0]))
          .get(Math.max(1, Math.min(deadline - System.nanoTime(), TimeUnit.SECONDS.toNanos(30))), TimeUnit.NANOSECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (ExecutionException | TimeoutException e) {
      LOG.log(System.Logger.Level.WARNING, "procpool: worker processes did not exit in time: " + e);
    }
  }

  private void finish(State terminal) {
    lock.lock();
    try {
      if (state != State.TERMINATED) {
        state = terminal;
      }
    } finally {
      lock.unlock();
    }
    server.close();
    timer.shutdown();
    callbackExecutor.shutdown();
    if (Thread.currentThread() != callbackThread) {
      try {
        callbackExecutor.awaitTermination(30, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  @Override
  public int processes() {
    return options.processes();
  }

  @Override
  public String transport() {
    return provider.name();
  }

  @Override
  public String address() {
    return server.address();
  }

  @Override
  public List<Long> workerPids() {
    lock.lock();
    try {
      List<Long> pids = new ArrayList<>();
      for (Worker w : workers.values()) {
        if (w.state == Worker.State.READY || w.state == Worker.State.RETIRING) {
          pids.add(w.pid);
        }
      }
      return pids;
    } finally {
      lock.unlock();
    }
  }

  @Override
  public String toString() {
    lock.lock();
    try {
      return "ProcessPool[" + provider.name() + ", processes=" + options.processes() + ", state=" + state
          + ", workers=" + workers.size() + ", queued=" + pending.size() + "]";
    } finally {
      lock.unlock();
    }
  }
}
