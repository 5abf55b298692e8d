package io.procpool.core.internal;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.Executor;

/** A task submitted by {@code apply}/{@code applyAsync}: one function call, one result. */
final class SingleTask<R> extends Task implements AsyncResultImpl.Canceller {
  private final PoolImpl pool;
  final AsyncResultImpl<R> result;

  SingleTask(PoolImpl pool, long id, FunctionTable.Entry function, ByteBuffer message, Executor callbacks) {
    super(id, function, message);
    this.pool = pool;
    this.result = new AsyncResultImpl<>(callbacks, this);
  }

  @Override
  @SuppressWarnings("unchecked")
  void onValue(Object value) {
    result.succeed((R) value);
  }

  @Override
  void onChunk(List<Object> values, Throwable failure, boolean thrownByTask) {
    onFailure(new IllegalStateException("protocol error: chunk result for a single task"), false);
  }

  @Override
  void onFailure(Throwable error, boolean thrownByTask) {
    if (thrownByTask) {
      result.failByTask(error);
    } else {
      result.fail(error);
    }
  }

  @Override
  void onCancelled() {
    result.markCancelled();
  }

  @Override
  public boolean cancel(boolean mayInterruptIfRunning) {
    return pool.cancel(this, mayInterruptIfRunning);
  }
}
