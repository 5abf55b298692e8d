package io.procpool.core.internal;

import java.nio.ByteBuffer;
import java.util.List;

/**
 * One unit of work on the wire: a single task or a chunk of map items. Its fields are guarded by the
 * scheduler's lock; its outcome methods are called once, outside the lock (from an {@link Outbox}).
 */
abstract class Task {
  final long id;
  final FunctionTable.Entry function;
  private final ByteBuffer message;
  /** The user-visible tasks it carries: 1, or the items of a chunk (for statistics and progress). */
  final int items;
  /** When it was first queued ({@code nanoTime}); a retry keeps it. */
  long submittedNanos;
  /** Once it has an outcome (not cancelled): the time it ran and the time it waited (statistics). */
  long runNanos;
  long waitNanos;
  /** The worker holding it, or null while queued. */
  WorkerHandle worker;
  /** Set once its outcome is decided (completed, failed or cancelled). */
  boolean done;
  /** Its taskTimeout while a worker holds it. */
  Cancellable timeout;
  /** Times it was run again after a crash (retryOnCrash). */
  int attempts;
  /** Counted in its worker's {@link WorkerHandle#slowHeld}. */
  boolean slow;

  Task(long id, FunctionTable.Entry function, ByteBuffer message, int items) {
    this.id = id;
    this.function = function;
    this.message = message;
    this.items = items;
  }

  /** A fresh view of the TASK message, for one write. */
  ByteBuffer message() {
    return message.duplicate();
  }

  /** Encoded size in bytes: what it costs a worker's byte credit. */
  int size() {
    return message.remaining();
  }

  /** A single task's value. */
  abstract void onValue(Object value);

  /** A chunk's values, in order, and the failure that stopped it ({@code null} if none). */
  abstract void onChunk(List<Object> values, Throwable failure, boolean thrownByTask);

  /** A failure: thrown by the task, or raised by the pool. */
  abstract void onFailure(Throwable error, boolean thrownByTask);

  /** The task was cancelled. */
  abstract void onCancelled();

  @Override
  public String toString() {
    return "task " + id;
  }
}
