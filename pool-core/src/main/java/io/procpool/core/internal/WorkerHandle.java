package io.procpool.core.internal;

import io.procpool.api.spi.Connection;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.EnumSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * The parent's view of one worker: a state machine with checked transitions, the tasks it holds
 * and its credit. Every field is guarded by the scheduler's lock unless noted.
 *
 * <pre>
 *   STARTING ──ready──▶ READY ──maxTasksPerChild / RETIRE──▶ RETIRING
 *       │                 │                                     │
 *       │                 └────────────── stop ─────────────────┴──▶ STOPPING
 *       └───────────── any state: connection or process ended ──────────────▶ DEAD
 * </pre>
 */
final class WorkerHandle {
  /** Functions a worker keeps; past this the least recently used is forgotten on both sides. */
  static final int MAX_FUNCTIONS = 1024;

  enum State {
    /** Launched (or joining); not connected or not initialized yet. */
    STARTING,
    /** Takes tasks. */
    READY,
    /** Takes no new tasks; stops when the tasks it holds are done, and is replaced. */
    RETIRING,
    /** Told to exit. */
    STOPPING,
    /** Gone: its tasks were completed, retried or failed. Final. */
    DEAD;

    private Set<State> next;

    static {
      STARTING.next = EnumSet.of(READY, STOPPING, DEAD);
      READY.next = EnumSet.of(RETIRING, STOPPING, DEAD);
      RETIRING.next = EnumSet.of(STOPPING, DEAD);
      STOPPING.next = EnumSet.of(DEAD);
      DEAD.next = EnumSet.noneOf(State.class);
    }
  }

  final int id;
  /** Started by hand, not by the pool: never replaced, never counted as a start failure. */
  final boolean external;
  /** Placed by the pool's cluster engine (a job), not started on this machine. */
  final boolean cluster;
  private State state = State.STARTING;
  /** Set once launched; null for external workers. Written under the lock, read anywhere. */
  volatile WorkerLauncher.Launched process;
  volatile long pid = -1;
  Connection connection;
  /** Tasks written to the worker and not yet finished by it, in the order it runs them. */
  final ArrayDeque<Task> inflight = new ArrayDeque<>();
  /** Encoded bytes of {@link #inflight}: the byte part of the worker's credit. */
  long inflightBytes;
  /** Tasks of {@link #inflight} whose function had credit 1 (slow or unknown): nothing is queued behind them. */
  int slowHeld;
  /** Tasks ever written to it (for maxTasksPerChild). */
  int dispatched;
  /** When it last got a task, in pool-wide assignment order. */
  long lastAssigned;
  /** When it last finished a task or became ready ({@code nanoTime}). */
  long lastProgressNanos;
  /** RECALLs sent and not answered yet, in order; the worker gets no new task meanwhile. */
  final ArrayDeque<Recall> recalls = new ArrayDeque<>();
  /**
   * Work was taken back from it because it sat on queued tasks while another worker idled: it gets
   * one task at a time until it finishes the one it is running.
   */
  boolean stalled;
  /** Why the pool killed it, or null: its tasks complete according to this rather than as a crash. */
  KillReason killReason;
  /** Set when its initializer failed after the pool had run: the start failure's cause. */
  io.procpool.api.WorkerStartException initFailure;
  Cancellable startTimeout;
  /** When a message from it last arrived (pool clock), for the heartbeat of cluster workers. Any thread. */
  volatile long lastHeardNanos;
  boolean needsFlush;
  /** Statistics: when it was launched (or joined), tasks (items) it finished, time it ran them. */
  final java.time.Instant startedAt = java.time.Instant.now();
  long tasksCompleted;
  long tasksFailed;
  long busyNanos;

  private int lastDefined = -1;
  private final LinkedHashMap<Integer, Boolean> functions = new LinkedHashMap<>(64, 0.75f, true);

  /** Why a RECALL was sent: to move queued work elsewhere, or to cancel one task. */
  record Recall(Task cancelled, boolean interrupt) {
    static final Recall REBALANCE = new Recall(null, false);
  }

  WorkerHandle(int id, boolean external) {
    this(id, external, false);
  }

  WorkerHandle(int id, boolean external, boolean cluster) {
    this.id = id;
    this.external = external;
    this.cluster = cluster;
  }

  State state() {
    return state;
  }

  boolean is(State s) {
    return state == s;
  }

  /** Whether it can run tasks it is given: READY or RETIRING. */
  boolean serving() {
    return state == State.READY || state == State.RETIRING;
  }

  /** Moves to {@code next}; a transition the diagram above does not allow is a bug in the pool. */
  void gotoState(State next) {
    if (!state.next.contains(next)) {
      throw new IllegalStateException(this + ": illegal transition " + state + " -> " + next);
    }
    state = next;
  }

  /**
   * Writes the DEFINE message of {@code fn} unless this worker has it, and a FORGET for the function
   * it evicts to make room.
   */
  int ensureDefined(FunctionTable.Entry fn) {
    if (fn.id == lastDefined) {
      return 0; // already the most recently used: nothing to send, nothing to reorder
    }
    lastDefined = fn.id;
    if (functions.get(fn.id) != null) {
      return 0;
    }
    ByteBuffer define = fn.defineMessage();
    int bytes = define.remaining();
    connection.write(define);
    functions.put(fn.id, Boolean.TRUE);
    if (functions.size() > MAX_FUNCTIONS) {
      Iterator<Map.Entry<Integer, Boolean>> it = functions.entrySet().iterator();
      int evicted = it.next().getKey();
      it.remove();
      connection.write(WorkerProtocol.forget(evicted));
    }
    return bytes;
  }

  /**
   * Writes {@code t} to the worker and records it as held; {@code slow}: its function has credit 1.
   * Returns the bytes written.
   */
  long assign(Task t, long order, ByteBuffer message, boolean slow) {
    long bytes = ensureDefined(t.function) + message.remaining();
    connection.write(message);
    inflight.addLast(t);
    inflightBytes += t.size();
    t.slow = slow;
    if (slow) {
      slowHeld++;
    }
    t.worker = this;
    dispatched++;
    lastAssigned = order;
    return bytes;
  }

  /** Forgets {@code t} (finished, recalled or lost). */
  void release(Task t) {
    inflightBytes -= t.size();
    if (t.slow) {
      slowHeld--;
      t.slow = false;
    }
    t.worker = null;
  }

  /**
   * Its process's exit code once it has exited, or {@code null} if that is not known within a second
   * (no process, or it has not exited yet).
   */
  java.util.concurrent.CompletableFuture<Integer> exitCodeSoon() {
    WorkerLauncher.Launched p = process;
    return p == null
        ? java.util.concurrent.CompletableFuture.completedFuture(null)
        : p.exitSoon().copy().completeOnTimeout(null, 1, java.util.concurrent.TimeUnit.SECONDS).exceptionally(e -> null);
  }

  @Override
  public String toString() {
    WorkerLauncher.Launched p = process;
    String job = p == null ? null : p.describe();
    return (external ? "external worker " : "worker ") + id + " (pid " + pid + (job != null ? ", " + job : "") + ")";
  }
}
