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
   * Cancels the task. A task that no worker has started never runs: it is removed from the pool's
   * queue, or taken back from the worker it was sent to. With {@code mayInterruptIfRunning}, a task
   * already running is stopped by killing its worker, which the pool then replaces; the tasks queued
   * behind it on that worker are taken back first and run elsewhere. Without it, a running task is
   * left to finish (its taskTimeout still applies) and its result is discarded. (The {@code threads}
   * transport cannot kill a thread: the task's thread is interrupted and abandoned.)
   *
   * @return {@code true} if this call cancelled the task
   */
  @Override
  boolean cancel(boolean mayInterruptIfRunning);

  /**
   * A {@link CompletableFuture} view, completed when this result is, on one of the pool's own view
   * threads (a small {@link java.util.concurrent.ForkJoinPool}, not the callback thread, so that a
   * callback may wait for another task's view). Dependent stages run on those threads (or, as with
   * any {@code CompletableFuture}, on a thread that helps while waiting in {@code get}/{@code join}),
   * never on a pool I/O thread; {@code *Async} stages without an executor run there too, and run in
   * the calling thread once the pool has been closed. With a
   * {@link ProcessPool.Builder#callbackExecutor callbackExecutor}, views complete and {@code *Async}
   * stages run on that executor instead. Completing or cancelling the returned future does not
   * affect the task.
   */
  CompletableFuture<R> toCompletableFuture();
}
