package io.procpool.api;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The pending result of a task submitted with {@code applyAsync} or {@code mapAsync}: Python's
 * {@code AsyncResult}, as a {@link Future}.
 *
 * <p>Every {@code AsyncResult} completes exactly once: with the task's value, with the task's
 * failure, or with a pool-level failure ({@link WorkerCrashedException}, {@link TaskTimeoutException},
 * {@link PoolTerminatedException}); or it is cancelled. None waits forever for a dead worker.
 *
 * <p>Instances are thread-safe.
 *
 * @param <R> the result type
 */
public interface AsyncResult<R> extends Future<R> {

  /**
   * Waits for the result. Python's {@code get()}.
   *
   * @throws ExecutionException with the task's failure as its cause (the exception the task threw,
   *     rebuilt in this JVM, or a {@link RemoteException}), or a pool-level failure such as
   *     {@link WorkerCrashedException}
   * @throws java.util.concurrent.CancellationException if the task was cancelled
   * @throws InterruptedException if the calling thread is interrupted while waiting
   */
  @Override
  R get() throws InterruptedException, ExecutionException;

  /**
   * Waits at most {@code timeout} for the result. Python's {@code get(timeout)}.
   *
   * @throws TimeoutException if the result is not ready in time; the task keeps running
   */
  @Override
  R get(long timeout, TimeUnit unit) throws InterruptedException, ExecutionException, TimeoutException;

  /**
   * Waits at most {@code timeout} until the result is ready, without throwing the task's failure.
   * Python's {@code wait(timeout)}.
   *
   * @return {@code true} if the result is ready
   * @throws InterruptedException if the calling thread is interrupted while waiting
   */
  boolean waitFor(Duration timeout) throws InterruptedException;

  /** Whether the task has completed, in any way. Python's {@code ready()}. */
  boolean ready();

  /**
   * Whether the task completed with a value. Python's {@code successful()}.
   *
   * @throws IllegalStateException if the result is not {@linkplain #ready() ready} yet
   */
  boolean successful();

  /**
   * Cancels the task. A task still waiting in the pool's queue is removed from it. With
   * {@code mayInterruptIfRunning}, a task already running is stopped by killing its worker, which the
   * pool then replaces; other tasks that were queued on that same worker fail with
   * {@link WorkerCrashedException}. Without it, a running task is left to finish and its result is
   * discarded.
   *
   * @return {@code true} if this call cancelled the task
   */
  @Override
  boolean cancel(boolean mayInterruptIfRunning);

  /**
   * A {@link CompletableFuture} view, completed on the pool's callback thread when this result is.
   * Dependent stages run on that thread (or, as with any {@code CompletableFuture}, on a thread that
   * helps while waiting in {@code get}/{@code join}), never on a pool I/O thread; {@code *Async}
   * stages without an executor run on the callback thread too. Completing or cancelling the returned
   * future does not affect the task.
   */
  CompletableFuture<R> toCompletableFuture();
}
