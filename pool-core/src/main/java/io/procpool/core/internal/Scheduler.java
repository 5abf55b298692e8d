package io.procpool.core.internal;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import io.procpool.api.PoolClosedException;
import io.procpool.api.PoolTerminatedException;
import io.procpool.api.TaskTimeoutException;
import io.procpool.api.WorkerCrashedException;
import io.procpool.api.WorkerStartException;
import io.procpool.api.spi.Connection;
import io.procpool.api.spi.PoolOptions;
import io.procpool.api.spi.ProtocolException;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.WeakHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The parent's scheduler: one queue of tasks, credit-based dispatch to workers, completion, cancel,
 * timeouts, retries and the pool's shutdown states.
 *
 * <h2>Threads</h2>
 * <ul>
 *   <li>Callers (submit, cancel, close, terminate, join, workerPids): any thread.
 *   <li>Each worker's transport thread, through its {@link WorkerChannel}, which decodes a message
 *       (values included) <em>before</em> calling in: hello, ready, result, recalled, retire,
 *       init-failed, read-complete, closed.
 *   <li>The {@link PoolClock}'s thread: task timeouts, start timeouts, delayed replacements.
 *   <li>Process-exit watchers (see {@link WorkerSupervisor}).
 * </ul>
 *
 * <h2>The lock</h2>
 * {@link #lock} guards every field of this class that is not final or atomic, every field of every
 * {@link WorkerHandle} and {@link Task}, and the supervisor's counters. <b>No method holding the lock
 * flushes a connection, completes a result, logs, kills or launches a process</b>: it adds those
 * effects to an {@link Outbox}, and the method that took the lock runs the outbox after unlocking.
 * {@link Connection#write} only queues and never blocks, so writes happen under the lock, in
 * dispatch order. Methods named {@code *Locked} must be called with the lock held (asserted).
 *
 * <h2>Dispatch</h2>
 * A task goes to the READY worker with the fewest tasks in flight that has credit for it: room under
 * the count limit, learned per function (1 while the function's run time is unknown or a taskTimeout
 * is set, else enough queued work to hide a round trip, at most {@link #MAX_IN_FLIGHT}), nothing
 * slow already held, and room under the byte budget ({@link #BYTE_BUDGET}); a worker with nothing in
 * flight takes any one task. With credit 1 the pool behaves like Python's shared queue: tasks start
 * in submission order on whichever worker is free. Pipelining is what makes
 * small tasks fast, and its risk is a task waiting behind a long one while another worker idles. So
 * whenever the queue is empty and a worker is idle, the scheduler sends a RECALL to the worker holding
 * the most tasks: the worker takes back what it has not started (on its transport thread, even while
 * a task runs) and answers RECALLED; the parent queues those tasks again at the front, and the
 * worker, now known to be slow, gets one task at a time until it finishes its current one. A worker
 * with a RECALL outstanding gets no new task. cancel() of a task a worker holds uses the same
 * exchange: the task is taken back unless started, and the worker is killed only if it is running
 * it and {@code mayInterruptIfRunning} was asked.
 *
 * <h2>Completion accounting</h2>
 * {@link #unfinished} counts submitted tasks whose outcome has not been delivered (delivery runs the
 * result's completion and queues its callbacks). {@code close()} returns only when it is zero, every
 * worker has left and the callbacks have run; a crash racing {@code close()} therefore cannot drop a
 * callback.
 *
 * <h2>States</h2>
 * RUNNING → CLOSING (close: no new tasks; open imaps over collections are submitted in full; idle
 * workers are stopped once the queue is empty) → CLOSED; RUNNING or CLOSING → TERMINATED (terminate:
 * every unfinished task fails, every worker is killed). Worker states: see {@link WorkerHandle}.
 */
final class Scheduler {
  private static final System.Logger LOG = System.getLogger("io.procpool");
  /** Queued work per worker that dispatch aims for: enough to hide a round trip, not to hoard. */
  static final double QUEUE_BUDGET_NANOS = 1_000_000;
  static final int MAX_IN_FLIGHT = 64;
  /** Encoded bytes a worker may hold beyond the task it runs. */
  static final long BYTE_BUDGET = 8L << 20;

  enum PoolState { RUNNING, CLOSING, CLOSED, TERMINATED }

  final ReentrantLock lock = new ReentrantLock();
  private final Condition changed = lock.newCondition();
  private final PoolOptions options;
  private final PoolClock clock;
  @GuardedBy("lock")
  private final ArrayDeque<Task> pending = new ArrayDeque<>();
  @GuardedBy("lock")
  private final Map<Integer, WorkerHandle> workers = new LinkedHashMap<>();
  /** Submitted tasks whose outcome has not been delivered. Changed outside the lock. */
  private final AtomicInteger unfinished = new AtomicInteger();
  /** imaps over collections that still have input to submit; close() submits the rest. */
  @GuardedBy("lock")
  private final Set<ImapIterator<?>> openImaps = Collections.newSetFromMap(new WeakHashMap<>());
  private WorkerSupervisor supervisor;
  @GuardedBy("lock")
  private PoolState state = PoolState.RUNNING;
  /** Set when the pool can never run a task (before it ever ran: its workers cannot start). */
  @GuardedBy("lock")
  private WorkerStartException broken;
  @GuardedBy("lock")
  private boolean submittingImaps;
  @GuardedBy("lock")
  private long assignments;

  // Statistics (see PoolStats): tasks counted as items, changed with the lock held when a task's
  // outcome is decided, so that a snapshot adds up.
  @GuardedBy("lock")
  private long submittedItems;
  @GuardedBy("lock")
  private long completedItems;
  @GuardedBy("lock")
  private long failedItems;
  @GuardedBy("lock")
  private long cancelledItems;
  @GuardedBy("lock")
  private long runNanos;
  @GuardedBy("lock")
  private long waitNanos;
  @GuardedBy("lock")
  private long bytesSent;
  @GuardedBy("lock")
  private long workersStarted;
  @GuardedBy("lock")
  private long workersLost;
  private final java.util.concurrent.atomic.LongAdder bytesReceived = new java.util.concurrent.atomic.LongAdder();
  private final boolean workersInProcess;

  Scheduler(PoolOptions options, PoolClock clock, boolean workersInProcess) {
    this.options = options;
    this.clock = clock;
    this.workersInProcess = workersInProcess;
  }

  void setSupervisor(WorkerSupervisor supervisor) {
    this.supervisor = supervisor;
  }

  PoolClock clock() {
    return clock;
  }

  void assertLocked() {
    assert lock.isHeldByCurrentThread() : "the scheduler's lock must be held";
  }

  // ------------------------------------------------------------------ submission

  /** Throws unless the pool takes new tasks. */
  void checkAccepting() {
    lock.lock();
    try {
      checkAcceptingLocked(false);
    } finally {
      lock.unlock();
    }
  }

  private void checkAcceptingLocked(boolean fromImap) {
    if (state != PoolState.RUNNING && !(fromImap && submittingImaps && state == PoolState.CLOSING)) {
      throw state == PoolState.TERMINATED
          ? new PoolClosedException("the pool was terminated; it takes no new tasks")
          : new PoolClosedException("the pool is closed; it takes no new tasks");
    }
    if (broken != null) {
      throw new WorkerStartException("the pool cannot run tasks: " + broken.getMessage(), broken);
    }
  }

  void submit(Task task) {
    submitAll(List.of(task), false);
  }

  /**
   * Queues {@code tasks} and dispatches what workers have credit for.
   *
   * @param fromImap whether an open imap submits them (allowed while close() submits open imaps)
   */
  void submitAll(Collection<? extends Task> tasks, boolean fromImap) {
    Outbox out = new Outbox();
    lock.lock();
    try {
      checkAcceptingLocked(fromImap);
      unfinished.addAndGet(tasks.size());
      long now = clock.nanoTime();
      for (Task t : tasks) {
        t.submittedNanos = now;
        submittedItems += t.items;
      }
      pending.addAll(tasks);
      dispatchLocked(out);
    } finally {
      lock.unlock();
    }
    out.run();
  }

  /**
   * Registers a new imap, atomically with the check that the pool takes tasks (so that a close()
   * cannot miss it): close() submits the rest of an imap over a collection.
   *
   * @throws PoolClosedException if the pool is closed
   */
  void openImap(ImapIterator<?> imap, boolean finite) {
    lock.lock();
    try {
      checkAcceptingLocked(false);
      if (finite) {
        openImaps.add(imap);
      }
    } finally {
      lock.unlock();
    }
  }

  void imapDone(ImapIterator<?> imap) {
    lock.lock();
    try {
      openImaps.remove(imap);
    } finally {
      lock.unlock();
    }
  }

  // ------------------------------------------------------------------ dispatch

  /**
   * How many tasks of {@code fn} a worker may hold: 1 while the function's run time is unknown or a
   * taskTimeout is set, else enough to hide a round trip. Learned per function, so that tasks that
   * may block (a consumer waiting on a queue) are never queued behind each other on the strength of
   * other, fast functions; with credit 1 a task goes only to an idle worker, in submission order,
   * as with Python's shared task queue.
   */
  private int creditFor(FunctionTable.Entry fn) {
    double avg = fn.avgNanos;
    if (options.taskTimeout().isPresent() || avg <= 0) {
      return 1;
    }
    return (int) Math.max(1, Math.min(MAX_IN_FLIGHT, QUEUE_BUDGET_NANOS / avg));
  }

  private boolean canTake(WorkerHandle w, Task t) {
    if (!w.is(WorkerHandle.State.READY) || !w.recalls.isEmpty() || w.killReason != null) {
      return false; // a worker the pool is killing gets nothing, not even what it gave back
    }
    if (w.inflight.isEmpty()) {
      return true;
    }
    // Pipeline only fast tasks, and only behind fast tasks.
    return !w.stalled && w.slowHeld == 0 && w.inflight.size() < creditFor(t.function)
        && w.inflightBytes + t.size() <= BYTE_BUDGET;
  }

  /** Whether {@code w} should get the next task rather than {@code best}. */
  private static boolean better(WorkerHandle w, WorkerHandle best) {
    if (w.inflight.size() != best.inflight.size()) {
      return w.inflight.size() < best.inflight.size();
    }
    if (!w.inflight.isEmpty() && w.lastProgressNanos != best.lastProgressNanos) {
      // Among busy workers, the one that finished something most recently is the least likely to
      // be stuck in a long task.
      return w.lastProgressNanos > best.lastProgressNanos;
    }
    // Among idle workers, the one that got work longest ago: work spreads over the workers as
    // with Python's shared task queue.
    return w.lastAssigned < best.lastAssigned;
  }

  /** Assigns queued tasks to workers with credit; takes work back from a worker if another idles. */
  void dispatchLocked(Outbox out) {
    assertLocked();
    while (!pending.isEmpty()) {
      Task t = pending.peekFirst();
      WorkerHandle best = null;
      for (WorkerHandle w : workers.values()) {
        if (canTake(w, t) && (best == null || better(w, best))) {
          best = w;
        }
      }
      if (best == null) {
        break;
      }
      pending.pollFirst();
      assignLocked(best, t, out);
    }
    if (pending.isEmpty()) {
      rebalanceLocked(out);
    }
    stopIdleWorkersIfClosingLocked(out);
  }

  private void assignLocked(WorkerHandle w, Task t, Outbox out) {
    bytesSent += w.assign(t, ++assignments, t.message(), creditFor(t.function) == 1);
    flushLater(w, out);
    if (options.taskTimeout().isPresent()) {
      Duration timeout = options.taskTimeout().get();
      t.timeout = clock.schedule(() -> onTimeout(t, timeout), timeout.toNanos());
    }
    if (options.maxTasksPerChild() > 0 && w.dispatched >= options.maxTasksPerChild()) {
      w.gotoState(WorkerHandle.State.RETIRING);
    }
  }

  /** Queues a flush of {@code w}'s connection in {@code out}, once per batch of writes. */
  void flushLater(WorkerHandle w, Outbox out) {
    if (!w.needsFlush) {
      w.needsFlush = true;
      out.add(() -> flush(w));
    }
  }

  private void flush(WorkerHandle w) {
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

  /**
   * The queue is empty: if a worker idles while another sits on tasks it has not started, ask the
   * latter to give them back.
   */
  private void rebalanceLocked(Outbox out) {
    boolean someoneIdle = false;
    WorkerHandle victim = null;
    for (WorkerHandle w : workers.values()) {
      if (w.killReason != null) {
        continue;
      }
      if (w.is(WorkerHandle.State.READY) && w.inflight.isEmpty() && w.recalls.isEmpty()) {
        someoneIdle = true;
      } else if (w.serving() && w.recalls.isEmpty() && w.inflight.size() >= 2
          && (victim == null || w.inflight.size() > victim.inflight.size())) {
        victim = w;
      }
    }
    if (someoneIdle && victim != null) {
      recallLocked(victim, victim.inflight, WorkerHandle.Recall.REBALANCE, out);
    }
  }

  private void recallLocked(WorkerHandle w, Collection<Task> tasks, WorkerHandle.Recall why, Outbox out) {
    long[] ids = new long[tasks.size()];
    int i = 0;
    for (Task t : tasks) {
      ids[i++] = t.id;
    }
    w.connection.write(WorkerProtocol.recall(ids));
    w.recalls.addLast(why);
    flushLater(w, out);
  }

  /** The answer to the oldest RECALL sent to {@code w}. */
  void onRecalled(WorkerHandle w, WorkerProtocol.Recalled r) throws ProtocolException {
    Outbox out = new Outbox();
    lock.lock();
    try {
      if (w.killReason != null || !w.serving()) {
        return;
      }
      WorkerHandle.Recall why = w.recalls.pollFirst();
      if (why == null) {
        throw new ProtocolException("RECALLED from " + w + " without a RECALL");
      }
      List<Task> back = new ArrayList<>(r.taskIds().length);
      if (r.taskIds().length > 0) {
        java.util.HashSet<Long> ids = new java.util.HashSet<>();
        for (long id : r.taskIds()) {
          ids.add(id);
        }
        for (Iterator<Task> it = w.inflight.iterator(); it.hasNext(); ) {
          Task t = it.next();
          if (ids.contains(t.id)) {
            it.remove();
            w.release(t);
            if (t.timeout != null) {
              t.timeout.cancel();
            }
            if (!t.done) {
              back.add(t);
            }
          }
        }
      }
      for (int i = back.size() - 1; i >= 0; i--) {
        pending.addFirst(back.get(i));
      }
      if (why == WorkerHandle.Recall.REBALANCE && r.taskIds().length > 0) {
        w.stalled = true;
      }
      Task cancelled = why.cancelled();
      if (cancelled != null && why.interrupt() && r.runningTaskId() == cancelled.id && cancelled.worker == w) {
        w.killReason = KillReason.cancel(cancelled);
        out.add(supervisor.killer(w));
      } else if (w.is(WorkerHandle.State.RETIRING) && w.inflight.isEmpty() && w.recalls.isEmpty()) {
        supervisor.retireLocked(w, out);
      }
      dispatchLocked(out);
    } finally {
      lock.unlock();
    }
    out.run();
  }

  /** Dispatches after a run of messages from a worker, so its results free credit in one step. */
  void dispatchAndFlush() {
    Outbox out = new Outbox();
    lock.lock();
    try {
      dispatchLocked(out);
    } finally {
      lock.unlock();
    }
    out.run();
  }

  // ------------------------------------------------------------------ results

  /** A decoded RESULT from {@code w}, a message of {@code bytes} bytes. */
  void onResult(WorkerHandle w, WorkerProtocol.Result r, int bytes) throws ProtocolException {
    Task t;
    boolean deliver;
    long pid;
    long waited = 0;
    Outbox out = null;
    lock.lock();
    try {
      if (w.killReason != null) {
        return; // the pool is killing this worker: its tasks get the outcome of that decision
      }
      t = w.inflight.peekFirst();
      if (t == null || t.id != r.taskId()) {
        throw new ProtocolException("result for task " + r.taskId() + " from " + w + ", which was not expected");
      }
      w.inflight.pollFirst();
      w.release(t);
      w.lastProgressNanos = clock.nanoTime();
      w.stalled = false;
      deliver = !t.done;
      t.done = true;
      pid = w.pid;
      if (deliver) {
        long ok = r.values() != null ? r.values().size() : r.failure() == null ? 1 : 0;
        long failed = t.items - ok;
        completedItems += ok;
        failedItems += failed;
        w.tasksCompleted += ok;
        w.tasksFailed += failed;
        w.busyNanos += r.execNanos();
        waited = timedLocked(t, r.execNanos(), w.lastProgressNanos);
      }
      if (t.timeout != null) {
        t.timeout.cancel();
      }
      FunctionTable.Entry fn = t.function;
      fn.avgNanos = fn.avgNanos <= 0 ? Math.max(1, r.execNanos()) : fn.avgNanos * 0.9 + r.execNanos() * 0.1;
      if (w.is(WorkerHandle.State.RETIRING) && w.inflight.isEmpty() && w.recalls.isEmpty()) {
        out = new Outbox();
        supervisor.retireLocked(w, out);
      }
    } finally {
      lock.unlock();
    }
    if (out != null) {
      out.run();
    }
    if (deliver) {
      Events.task(t, pid, waited, r.execNanos(), bytes, r.failure() == null ? "completed"
          : r.thrownByTask() ? "failed" : "error");
      deliverResult(t, r);
    }
  }

  /**
   * Adds a task that has its outcome to the run and wait totals: {@code run} nanoseconds in a worker,
   * the rest of the time since it was submitted (until {@code now}) waiting. Returns the wait.
   */
  private long timedLocked(Task t, long run, long now) {
    long waited = Math.max(0, now - t.submittedNanos - run);
    runNanos += run;
    waitNanos += waited * t.items;
    t.runNanos = run;
    t.waitNanos = waited;
    return waited;
  }

  /**
   * Times a task that failed in {@code w} without a result (crash, timeout, termination): the one it
   * was running ran from when the worker was free for it (its last result, or the submission if it
   * idled) until now; those queued behind it only waited.
   */
  private void timeLostLocked(WorkerHandle w, Task t, long now) {
    long run = 0;
    if (t == w.inflight.peekFirst()) {
      run = Math.max(0, now - Math.max(t.submittedNanos, w.lastProgressNanos));
    }
    timedLocked(t, run, now);
  }

  private void deliverResult(Task t, WorkerProtocol.Result r) {
    try {
      if (r.values() != null) {
        t.onChunk(r.values(), r.failure(), r.thrownByTask());
      } else if (r.failure() != null) {
        t.onFailure(r.failure(), r.thrownByTask());
      } else {
        t.onValue(r.value());
      }
    } finally {
      delivered();
    }
  }

  /** One task's outcome has been delivered. */
  private void delivered() {
    if (unfinished.decrementAndGet() == 0) {
      lock.lock();
      try {
        changed.signalAll();
      } finally {
        lock.unlock();
      }
    }
  }

  private void deliverFailure(Task t, Throwable failure, boolean thrownByTask) {
    try {
      t.onFailure(failure, thrownByTask);
    } finally {
      delivered();
    }
  }

  // ------------------------------------------------------------------ cancel and timeout

  /** Cancels {@code t}; see {@link io.procpool.api.AsyncResult#cancel}. */
  boolean cancel(Task t, boolean mayInterruptIfRunning) {
    Outbox out = new Outbox();
    lock.lock();
    try {
      if (t.done) {
        return false;
      }
      t.done = true;
      cancelledItems += t.items;
      WorkerHandle w = t.worker;
      if (t.timeout != null && w == null) {
        // A task a worker holds keeps its timeout: if it runs and hangs, the worker is still killed.
        t.timeout.cancel();
      }
      if (w == null) {
        pending.remove(t);
      } else if (w.killReason == null && w.serving()) {
        // Take it (and what follows it) back unless started; kill only if it runs and that was asked.
        List<Task> tail = new ArrayList<>();
        boolean found = false;
        for (Task x : w.inflight) {
          found |= x == t;
          if (found) {
            tail.add(x);
          }
        }
        recallLocked(w, tail, new WorkerHandle.Recall(t, mayInterruptIfRunning), out);
      }
      out.add(() -> {
        try {
          t.onCancelled();
        } finally {
          delivered();
        }
      });
    } finally {
      lock.unlock();
    }
    out.run();
    return true;
  }

  private void onTimeout(Task t, Duration timeout) {
    Outbox out = new Outbox();
    lock.lock();
    try {
      WorkerHandle w = t.worker; // null once it finished or was taken back
      if (w == null || w.killReason != null) {
        return;
      }
      w.killReason = KillReason.timeout(t, new TaskTimeoutException("task " + t.id
          + " ran longer than the pool's taskTimeout of " + timeout + "; its worker pid " + w.pid
          + " was killed and replaced", timeout, w.pid));
      out.add(supervisor.killer(w));
    } finally {
      lock.unlock();
    }
    out.run();
  }

  // ------------------------------------------------------------------ workers

  /** Registers a worker the supervisor launched or accepted. */
  void addWorkerLocked(WorkerHandle w) {
    assertLocked();
    workers.put(w.id, w);
  }

  WorkerHandle workerLocked(int id) {
    assertLocked();
    return workers.get(id);
  }

  Collection<WorkerHandle> workersLocked() {
    assertLocked();
    return workers.values();
  }

  /** Tasks queued or held by a worker: the work that wants a worker now. */
  int demandLocked() {
    assertLocked();
    int n = pending.size();
    for (WorkerHandle w : workers.values()) {
      n += w.inflight.size();
    }
    return n;
  }

  boolean hasServingWorkerLocked() {
    assertLocked();
    for (WorkerHandle w : workers.values()) {
      if (w.serving()) {
        return true;
      }
    }
    return false;
  }

  PoolState stateLocked() {
    assertLocked();
    return state;
  }

  boolean brokenLocked() {
    assertLocked();
    return broken != null;
  }

  /** Whether a lost or retired worker must be replaced: there is, or may come, work for it. */
  boolean needsWorkersLocked() {
    assertLocked();
    return broken == null && (state == PoolState.RUNNING || (state == PoolState.CLOSING && !pending.isEmpty()));
  }

  /** The worker is ready: it may take tasks. */
  void onReady(WorkerHandle w) {
    Outbox out = new Outbox();
    lock.lock();
    try {
      if (!w.is(WorkerHandle.State.STARTING) || w.killReason != null) {
        return;
      }
      w.gotoState(WorkerHandle.State.READY);
      w.lastProgressNanos = clock.nanoTime();
      workersStarted++;
      out.add(() -> Events.workerStarted(w));
      supervisor.readyLocked(w, out);
      dispatchLocked(out);
    } finally {
      lock.unlock();
    }
    out.run();
  }

  /** The worker passed maxMemoryPerChild: let it finish what it holds, then replace it. */
  void onRetire(WorkerHandle w) {
    Outbox out = new Outbox();
    lock.lock();
    try {
      if (!w.is(WorkerHandle.State.READY)) {
        return;
      }
      w.gotoState(WorkerHandle.State.RETIRING);
      if (w.inflight.isEmpty() && w.recalls.isEmpty()) {
        supervisor.retireLocked(w, out);
      } else if (w.cluster) {
        // A cluster job near its walltime: its replacement may have to wait in the engine's queue.
        supervisor.ensureClusterLocked(out);
      }
    } finally {
      lock.unlock();
    }
    out.run();
  }

  private void stopIdleWorkersIfClosingLocked(Outbox out) {
    if (state != PoolState.CLOSING || submittingImaps || !pending.isEmpty()) {
      return;
    }
    for (WorkerHandle w : workers.values()) {
      if (w.cluster && w.is(WorkerHandle.State.STARTING) && w.connection == null && w.killReason == null) {
        // A job still waiting in the engine's queue: nothing is left for it to do (cancelled before the
        // idle workers below are stopped, so that their ends do not make room for it).
        w.killReason = KillReason.unneeded();
        out.add(supervisor.killer(w));
      }
    }
    for (WorkerHandle w : workers.values()) {
      if (w.serving() && w.inflight.isEmpty() && w.recalls.isEmpty() && w.killReason == null) {
        supervisor.stopLocked(w, out);
      }
    }
  }

  /**
   * The worker is gone (or must be treated so): retry or fail its tasks, let the supervisor decide
   * on a replacement. Idempotent.
   */
  void workerLost(WorkerHandle w, Throwable cause) {
    Outbox out = new Outbox();
    lock.lock();
    try {
      if (w.is(WorkerHandle.State.DEAD)) {
        return;
      }
      WorkerHandle.State previous = w.state();
      w.gotoState(WorkerHandle.State.DEAD);
      workers.remove(w.id);
      List<Task> lost = new ArrayList<>(w.inflight.size());
      List<Task> retried = new ArrayList<>();
      long now = clock.nanoTime();
      boolean retryable = (state == PoolState.RUNNING || state == PoolState.CLOSING) && broken == null
          && (w.killReason == null || w.killReason.allowsRetry());
      for (Task t : w.inflight) {
        w.release(t);
        if (t.timeout != null) {
          t.timeout.cancel();
        }
        if (t.done) {
          continue;
        }
        if (retryable && t.attempts < options.retryOnCrash()) {
          t.attempts++;
          retried.add(t);
        } else {
          t.done = true;
          failedItems += t.items;
          timeLostLocked(w, t, now);
          lost.add(t);
        }
      }
      KillReason why = w.killReason;
      if ((previous == WorkerHandle.State.READY || previous == WorkerHandle.State.RETIRING)
          && (why == null || why.kind == KillReason.Kind.TIMEOUT || why.kind == KillReason.Kind.CANCEL
              || why.kind == KillReason.Kind.PROTOCOL_ERROR)) {
        workersLost++;
        out.add(() -> Events.workerLost(w, why, cause));
      } else if (previous == WorkerHandle.State.STOPPING) {
        out.add(() -> Events.workerExited(w));
      }
      w.inflight.clear();
      w.recalls.clear();
      for (int i = retried.size() - 1; i >= 0; i--) {
        pending.addFirst(retried.get(i));
      }
      supervisor.workerGoneLocked(w, previous, cause, out);
      if (!lost.isEmpty()) {
        out.add(() -> failLostTasks(w, lost, cause));
      }
      dispatchLocked(out);
      changed.signalAll();
    } finally {
      lock.unlock();
    }
    out.run();
  }

  /** {@code w} broke the protocol: it is killed, and its tasks complete as after a crash. */
  void protocolError(WorkerHandle w, ProtocolException error) {
    Runnable kill = null;
    lock.lock();
    try {
      if (w.killReason == null && !w.is(WorkerHandle.State.DEAD)) {
        w.killReason = KillReason.protocolError(error);
        kill = supervisor.killer(w);
      }
    } finally {
      lock.unlock();
    }
    if (kill != null) {
      kill.run();
    }
    workerLost(w, error);
  }

  private void failLostTasks(WorkerHandle w, List<Task> lost, Throwable lossCause) {
    KillReason killed = w.killReason;
    // The connection's end may be reported before the reason the pool closed it: name that reason.
    Throwable cause = lossCause != null ? lossCause : killed != null ? killed.cause : null;
    w.exitCodeSoon().thenAccept(code -> {
      WorkerLauncher.Launched process = w.process;
      String verdict = process == null ? null : process.verdict();
      String job = process == null ? null : process.describe();
      String how = (code == null ? "died" : WorkerCrashedException.describeExitCode(code))
          + (verdict != null ? " (" + job + " ended " + verdict + ")" : "");
      KillReason reason = w.killReason;
      Task head = lost.get(0); // the one it was running, or had started last
      for (Task t : lost) {
        RuntimeException failure = reason == null ? null : reason.failureFor(t, w.pid, code);
        if (failure == null) {
          String what = t == head ? "while running task " + t.id
              : "while task " + t.id + " was queued on it behind task " + head.id + " (it may have started;"
                  + " retryOnCrash runs such tasks again)";
          failure = new WorkerCrashedException("worker pid " + w.pid + " " + how + " " + what
              + (cause != null ? " (" + cause.getMessage() + ")" : ""), w.pid, code, verdict, cause);
        }
        Events.task(t, w.pid, t.waitNanos, t.runNanos, 0, failure instanceof TaskTimeoutException ? "timeout"
            : failure instanceof WorkerCrashedException ? "crashed" : "failed by the pool");
        deliverFailure(t, failure, false);
      }
    });
  }

  /**
   * Marks the pool unable to run tasks (its workers cannot start before it ever ran); queued tasks
   * fail with {@code cause}.
   */
  void breakLocked(WorkerStartException cause, Outbox out) {
    assertLocked();
    if (broken != null) {
      return;
    }
    broken = cause;
    failPendingLocked(cause, out);
  }

  /** Fails every queued task with {@code cause} (workers cannot start now). */
  void failPendingLocked(RuntimeException cause, Outbox out) {
    assertLocked();
    List<Task> failed = drainPendingLocked();
    if (!failed.isEmpty()) {
      out.add(() -> failed.forEach(t -> deliverFailure(t, cause, false)));
    }
  }

  private List<Task> drainPendingLocked() {
    List<Task> drained = new ArrayList<>(pending);
    pending.clear();
    long now = clock.nanoTime();
    for (Task t : drained) {
      t.done = true;
      failedItems += t.items;
      timedLocked(t, 0, now);
    }
    return drained;
  }

  // ------------------------------------------------------------------ lifecycle

  /**
   * close(): no new tasks; open imaps over collections submit the rest of their input; returns when
   * every submitted task is complete and every worker has left.
   */
  void close() {
    List<ImapIterator<?>> imaps = null;
    lock.lock();
    try {
      if (state == PoolState.RUNNING) {
        state = PoolState.CLOSING;
        submittingImaps = true; // only this call ends it: a concurrent close() must not cut it short
        imaps = new ArrayList<>(openImaps);
      }
    } finally {
      lock.unlock();
    }
    if (imaps != null) {
      for (ImapIterator<?> imap : imaps) {
        try {
          imap.submitRestOnClose();
        } catch (RuntimeException e) {
          LOG.log(System.Logger.Level.WARNING, "procpool: could not submit the rest of an imap while closing: " + e);
        }
      }
      Outbox out = new Outbox();
      lock.lock();
      try {
        submittingImaps = false;
        stopIdleWorkersIfClosingLocked(out);
        changed.signalAll();
      } finally {
        lock.unlock();
      }
      out.run();
    }
    awaitQuiet(null);
  }

  /** terminate(): every unfinished task fails with {@code reason}; every worker is killed. */
  void terminate(PoolTerminatedException reason) {
    List<Task> failed = new ArrayList<>();
    Outbox out = new Outbox();
    lock.lock();
    try {
      if (state != PoolState.TERMINATED && state != PoolState.CLOSED) {
        state = PoolState.TERMINATED;
        failed.addAll(drainPendingLocked());
        for (WorkerHandle w : workers.values()) {
          long now = clock.nanoTime();
          for (Task t : w.inflight) {
            if (!t.done) {
              t.done = true;
              failedItems += t.items;
              timeLostLocked(w, t, now);
              failed.add(t);
            }
          }
          w.killReason = KillReason.terminate(reason);
        }
      }
      // Workers still starting first: a cluster job still pending must be cancelled before a running
      // one's end frees its place, or the engine starts it for nothing.
      for (WorkerHandle w : workers.values()) {
        if (w.is(WorkerHandle.State.STARTING)) {
          out.add(supervisor.killer(w));
        }
      }
      for (WorkerHandle w : workers.values()) {
        if (!w.is(WorkerHandle.State.STARTING)) {
          out.add(supervisor.killer(w));
        }
      }
    } finally {
      lock.unlock();
    }
    for (Task t : failed) {
      deliverFailure(t, reason, false);
    }
    out.run();
    awaitQuiet(Duration.ofSeconds(30));
  }

  /** Marks the pool finished after close() or terminate() returned. */
  void finished() {
    lock.lock();
    try {
      if (state != PoolState.TERMINATED) {
        state = PoolState.CLOSED;
      }
    } finally {
      lock.unlock();
    }
  }

  /** Whether terminate() was called. */
  boolean terminated() {
    lock.lock();
    try {
      return state == PoolState.TERMINATED;
    } finally {
      lock.unlock();
    }
  }

  /** Throws unless close() or terminate() was called. */
  void checkShutdown() {
    lock.lock();
    try {
      if (state == PoolState.RUNNING) {
        throw new IllegalStateException("join() needs close() or terminate() first");
      }
    } finally {
      lock.unlock();
    }
  }

  /** Waits until every submitted task is complete and every worker has left, then for their exit. */
  void awaitQuiet(Duration limit) {
    long deadline = limit == null ? Long.MAX_VALUE : System.nanoTime() + limit.toNanos();
    lock.lock();
    try {
      while (!workers.isEmpty() || unfinished.get() > 0 || submittingImaps) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          LOG.log(System.Logger.Level.WARNING, "procpool: after " + limit + ", workers still alive: "
              + workers.values() + ", unfinished tasks: " + unfinished.get());
          return;
        }
        changed.awaitNanos(Math.min(left, TimeUnit.SECONDS.toNanos(1)));
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return;
    } finally {
      lock.unlock();
    }
    supervisor.awaitProcessesExit(deadline);
  }

  List<Long> workerPids() {
    lock.lock();
    try {
      List<Long> pids = new ArrayList<>();
      for (WorkerHandle w : workers.values()) {
        if (w.serving()) {
          pids.add(w.pid);
        }
      }
      return pids;
    } finally {
      lock.unlock();
    }
  }

  /** Counts a message received from a worker. */
  void received(int bytes) {
    bytesReceived.add(bytes);
  }

  /** A consistent snapshot of the counters and the live workers. */
  io.procpool.api.PoolStats stats() {
    lock.lock();
    try {
      long running = 0;
      List<io.procpool.api.WorkerStats> ws = new ArrayList<>(workers.size());
      for (WorkerHandle w : workers.values()) {
        for (Task t : w.inflight) {
          if (!t.done) {
            running += t.items;
          }
        }
        io.procpool.api.WorkerStats.State s;
        switch (w.state()) {
          case STARTING:
            s = io.procpool.api.WorkerStats.State.STARTING;
            break;
          case READY:
            s = w.inflight.isEmpty() ? io.procpool.api.WorkerStats.State.IDLE : io.procpool.api.WorkerStats.State.BUSY;
            break;
          default:
            s = io.procpool.api.WorkerStats.State.RETIRING;
            break;
        }
        ws.add(new io.procpool.api.WorkerStats(workersInProcess ? -1 : w.pid, w.tasksCompleted, w.tasksFailed,
            Duration.ofNanos(w.busyNanos), w.startedAt, s));
      }
      long queued = submittedItems - completedItems - failedItems - cancelledItems - running;
      return new io.procpool.api.PoolStats(submittedItems, completedItems, failedItems, cancelledItems, queued,
          running, workersStarted, workersLost, Duration.ofNanos(runNanos), Duration.ofNanos(waitNanos),
          bytesSent, bytesReceived.sum(), ws);
    } finally {
      lock.unlock();
    }
  }

  /** Wakes close()/join() waiters: the set of workers changed. */
  void signalChangedLocked() {
    assertLocked();
    changed.signalAll();
  }

  String describe() {
    lock.lock();
    try {
      return "state=" + state + ", workers=" + workers.size() + ", queued=" + pending.size()
          + ", unfinished=" + unfinished.get();
    } finally {
      lock.unlock();
    }
  }
}
