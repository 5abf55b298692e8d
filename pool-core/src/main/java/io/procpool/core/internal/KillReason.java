package io.procpool.core.internal;

import io.procpool.api.PoolTerminatedException;
import io.procpool.api.TaskTimeoutException;
import io.procpool.api.WorkerCrashedException;

/**
 * Why the pool killed a worker, so that the tasks it held complete with the outcome of that decision
 * rather than as a crash: the task that was the reason gets {@link #failure}, the others a
 * {@link WorkerCrashedException} naming the reason (or the pool's verdict, e.g. termination).
 */
final class KillReason {
  enum Kind {
    /** A task ran past taskTimeout. */
    TIMEOUT,
    /** {@code cancel(true)} of the running task. */
    CANCEL,
    /** {@code terminate()}. */
    TERMINATE,
    /** It broke the protocol. */
    PROTOCOL_ERROR,
    /** It did not become ready in time, or the pool cannot use it. */
    START,
    /**
     * The pool no longer needs it and it holds no task: a cluster job still waiting when the pool
     * closes, or one beyond the count asked for by {@code scale}. Not a start failure; not replaced.
     */
    UNNEEDED
  }

  final Kind kind;
  /** The task the kill is about (TIMEOUT, CANCEL), else null. */
  final Task task;
  /** What {@link #task} fails with (TIMEOUT), or what every held task fails with (TERMINATE), or null. */
  final RuntimeException failure;

  /** For PROTOCOL_ERROR: what was wrong, named in its tasks' failures; else null. */
  final Throwable cause;

  private KillReason(Kind kind, Task task, RuntimeException failure) {
    this(kind, task, failure, null);
  }

  private KillReason(Kind kind, Task task, RuntimeException failure, Throwable cause) {
    this.kind = kind;
    this.task = task;
    this.failure = failure;
    this.cause = cause;
  }

  static KillReason timeout(Task t, TaskTimeoutException failure) {
    return new KillReason(Kind.TIMEOUT, t, failure);
  }

  static KillReason cancel(Task t) {
    return new KillReason(Kind.CANCEL, t, null);
  }

  static KillReason terminate(PoolTerminatedException failure) {
    return new KillReason(Kind.TERMINATE, null, failure);
  }

  static KillReason protocolError(Throwable cause) {
    return new KillReason(Kind.PROTOCOL_ERROR, null, null, cause);
  }

  static KillReason start() {
    return new KillReason(Kind.START, null, null);
  }

  static KillReason unneeded() {
    return new KillReason(Kind.UNNEEDED, null, null);
  }

  /** Whether tasks it held may run again elsewhere (retryOnCrash): not after a decision about them. */
  boolean allowsRetry() {
    return kind == Kind.PROTOCOL_ERROR || kind == Kind.START || kind == Kind.UNNEEDED;
  }

  /**
   * What a task {@code t} held by the killed worker fails with; {@code null} means "as a crash".
   *
   * @param pid the worker's pid
   * @param exitCode its exit code if known
   */
  RuntimeException failureFor(Task t, long pid, Integer exitCode) {
    switch (kind) {
      case TERMINATE:
        return failure;
      case TIMEOUT:
      case CANCEL:
        if (t == task) {
          return failure; // null for CANCEL: the task's result already says cancelled
        }
        return new WorkerCrashedException("task " + t.id + " was queued on worker pid " + pid
            + ", which was killed to stop task " + task.id + " ("
            + (kind == Kind.TIMEOUT ? failure.getMessage() : "cancelled") + ")", pid, exitCode, null);
      default:
        return null;
    }
  }

  @Override
  public String toString() {
    return kind + (task != null ? " of task " + task.id : "");
  }
}
