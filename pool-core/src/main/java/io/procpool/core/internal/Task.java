package io.procpool.core.internal;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.ScheduledFuture;

/**
 * One unit of work on the wire: a single task or a chunk of map items. Its state is guarded by the
 * pool's lock; its outcome methods are called once, outside the lock.
 */
abstract class Task {
  final long id;
  final FunctionTable.Entry function;
  private final ByteBuffer message;
  /** The worker holding it, or null while queued. Guarded by the pool lock. */
  Worker worker;
  /** Set when the task is finished (completed, failed or cancelled). Guarded by the pool lock. */
  boolean done;
  ScheduledFuture<?> timeout;
  /** Times it was run again after a crash (retryOnCrash). Guarded by the pool lock. */
  int attempts;

  Task(long id, FunctionTable.Entry function, ByteBuffer message) {
    this.id = id;
    this.function = function;
    this.message = message;
  }

  /** A fresh view of the TASK message, for one write. */
  ByteBuffer message() {
    return message.duplicate();
  }

  /** A single task's value. */
  abstract void onValue(Object value);

  /** A chunk's values, in order, and the failure that stopped it ({@code null} if none). */
  abstract void onChunk(List<Object> values, Throwable failure, boolean thrownByTask);

  /** A failure: thrown by the task, or raised by the pool. */
  abstract void onFailure(Throwable error, boolean thrownByTask);

  /** The task was cancelled. */
  abstract void onCancelled();
}
