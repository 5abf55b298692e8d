package io.procpool.core.internal;

import java.util.List;
import java.util.concurrent.Executor;

/** A task submitted by {@code apply}/{@code applyAsync}: one function call, one result. */
final class SingleTask<R> extends Task implements AsyncResultImpl.Canceller {
  private final Scheduler scheduler;
  final AsyncResultImpl<R> result;

  SingleTask(Scheduler scheduler, TaskEncoder.Encoded encoded, Executor callbacks, Executor views) {
    super(encoded.id(), encoded.function(), encoded.message(), 1);
    this.scheduler = scheduler;
    this.result = new AsyncResultImpl<>(callbacks, views, this);
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
    return scheduler.cancel(this, mayInterruptIfRunning);
  }
}
