package io.procpool.core.internal;

import io.procpool.api.AsyncResult;
import java.time.Duration;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;

/**
 * An {@link AsyncResult} over a {@link CompletableFuture} that the pool completes exactly once. It
 * remembers whether a failure was thrown by the task (then blocking calls wrap it in
 * {@code TaskFailedException}) or raised by the pool.
 */
final class AsyncResultImpl<R> implements AsyncResult<R> {
  private static final System.Logger LOG = System.getLogger("io.procpool");

  private final CompletableFuture<R> future = new CompletableFuture<>();
  private final Executor callbackExecutor;
  private final Executor viewExecutor;
  private final Canceller canceller;
  private volatile boolean taskThrew;
  private volatile CompletableFuture<R> view;

  /** What cancellation does to the task behind a result. */
  interface Canceller {
    /** Returns whether the task was stopped or withdrawn; the pool completes the result. */
    boolean cancel(boolean mayInterruptIfRunning);
  }

  /**
   * @param callbackExecutor runs callbacks, one at a time, in completion order
   * @param viewExecutor completes {@link #toCompletableFuture()} views; a different executor, so that
   *     a callback may block on another task's view (and views on views: a ForkJoinPool compensates
   *     for blocked joins)
   */
  AsyncResultImpl(Executor callbackExecutor, Executor viewExecutor, Canceller canceller) {
    this.callbackExecutor = callbackExecutor;
    this.viewExecutor = viewExecutor;
    this.canceller = canceller;
  }

  /** Runs {@code r} on {@code executor}, or here if the executor was shut down (the pool has ended). */
  static void execute(Executor executor, Runnable r) {
    try {
      executor.execute(r);
    } catch (RejectedExecutionException e) {
      r.run();
    }
  }

  /** Registers callbacks; each runs once, on the callback executor. */
  void callbacks(Consumer<? super R> callback, Consumer<? super Throwable> errorCallback) {
    if (callback == null && errorCallback == null) {
      return;
    }
    future.whenComplete((value, error) -> execute(callbackExecutor, () -> {
      try {
        if (error == null) {
          if (callback != null) {
            callback.accept(value);
          }
        } else if (errorCallback != null) {
          errorCallback.accept(unwrap(error));
        }
      } catch (Throwable t) {
        LOG.log(System.Logger.Level.WARNING, "a procpool callback threw; the pool goes on", t);
      }
    }));
  }

  boolean succeed(R value) {
    return future.complete(value);
  }

  /** Completes with a failure the task threw. */
  boolean failByTask(Throwable error) {
    if (future.isDone()) {
      return false;
    }
    taskThrew = true;
    if (!future.completeExceptionally(error)) {
      taskThrew = false;
      return false;
    }
    return true;
  }

  /** Completes with a failure raised by the pool (crash, timeout, termination, encoding). */
  boolean fail(Throwable error) {
    return future.completeExceptionally(error);
  }

  /** Completes as cancelled. */
  boolean markCancelled() {
    return future.cancel(false);
  }

  boolean taskThrew() {
    return taskThrew;
  }

  @Override
  public R get() throws InterruptedException, ExecutionException {
    return future.get();
  }

  @Override
  public R get(long timeout, TimeUnit unit) throws InterruptedException, ExecutionException, TimeoutException {
    return future.get(timeout, unit);
  }

  @Override
  public boolean waitFor(Duration timeout) throws InterruptedException {
    try {
      future.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
    } catch (ExecutionException | CancellationException e) {
      // ready, with a failure
    } catch (TimeoutException e) {
      return false;
    }
    return true;
  }

  @Override
  public boolean ready() {
    return future.isDone();
  }

  @Override
  public boolean successful() {
    if (!future.isDone()) {
      throw new IllegalStateException("result is not ready");
    }
    return !future.isCompletedExceptionally();
  }

  @Override
  public boolean cancel(boolean mayInterruptIfRunning) {
    if (future.isDone()) {
      return false;
    }
    return canceller.cancel(mayInterruptIfRunning);
  }

  @Override
  public boolean isCancelled() {
    return future.isCancelled();
  }

  @Override
  public boolean isDone() {
    return future.isDone();
  }

  @Override
  public CompletableFuture<R> toCompletableFuture() {
    CompletableFuture<R> v = view;
    if (v == null) {
      synchronized (this) {
        v = view;
        if (v == null) {
          CompletableFuture<R> out = new View<>(r -> execute(viewExecutor, r));
          future.whenComplete((value, error) -> execute(viewExecutor, () -> {
            if (error == null) {
              out.complete(value);
            } else {
              out.completeExceptionally(unwrap(error));
            }
          }));
          view = v = out;
        }
      }
    }
    return v;
  }

  /**
   * A future whose default executor is the pool's view executor (not the common pool, not the
   * callback thread: a callback may wait for an async stage of a view), falling back to the calling
   * thread once the pool has ended.
   */
  private static final class View<T> extends CompletableFuture<T> {
    private final Executor executor;

    View(Executor executor) {
      this.executor = executor;
    }

    @Override
    public Executor defaultExecutor() {
      return executor;
    }

    @Override
    public <U> CompletableFuture<U> newIncompleteFuture() {
      return new View<>(executor);
    }
  }

  /** The underlying future, completed on pool threads; for the pool's own composition. */
  CompletableFuture<R> future() {
    return future;
  }

  static Throwable unwrap(Throwable t) {
    return t instanceof CompletionException && t.getCause() != null ? t.getCause() : t;
  }

  @Override
  public String toString() {
    return "AsyncResult[" + (future.isDone() ? (future.isCompletedExceptionally() ? "failed" : "done") : "pending") + "]";
  }
}
