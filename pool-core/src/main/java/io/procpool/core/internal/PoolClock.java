package io.procpool.core.internal;

import com.google.common.util.concurrent.ThreadFactoryBuilder;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * Time for the scheduler: the current instant and delayed actions (timeouts, start timeouts,
 * back-off, clean-up). Tests substitute a manual clock.
 */
interface PoolClock {

  long nanoTime();

  /**
   * Runs {@code action} once after {@code delayNanos}. Once the clock is shut down, runs it at once
   * instead: delayed actions are clean-up steps that must not be lost.
   */
  Cancellable schedule(Runnable action, long delayNanos);

  /** Stops the clock's thread; later {@link #schedule} calls run their action at once. */
  void shutdown();

  /** The clock of a running pool: {@link System#nanoTime} and one daemon timer thread. */
  static PoolClock system(String threadName) {
    ScheduledThreadPoolExecutor timer = new ScheduledThreadPoolExecutor(1,
        new ThreadFactoryBuilder().setDaemon(true).setNameFormat(threadName).build());
    timer.setRemoveOnCancelPolicy(true);
    return new PoolClock() {
      @Override
      public long nanoTime() {
        return System.nanoTime();
      }

      @Override
      public Cancellable schedule(Runnable action, long delayNanos) {
        try {
          ScheduledFuture<?> f = timer.schedule(action, delayNanos, TimeUnit.NANOSECONDS);
          return () -> f.cancel(false);
        } catch (RejectedExecutionException e) {
          action.run();
          return Cancellable.NONE;
        }
      }

      @Override
      public void shutdown() {
        timer.shutdown();
      }
    };
  }
}
