package io.procpool.core.internal;

import com.google.common.util.concurrent.MoreExecutors;
import com.google.common.util.concurrent.ThreadFactoryBuilder;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinWorkerThread;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * Where a pool runs user code: callbacks and progress listeners one at a time in order
 * ({@link #sequential}), {@code toCompletableFuture()} views on a separate executor ({@link #views},
 * so that a callback may wait for a view). Either the pool's own threads (one callback thread, a
 * small ForkJoinPool for views) or the user's executor, fed one callback at a time.
 */
final class Callbacks {
  private static final System.Logger LOG = System.getLogger("io.procpool");

  /** Runs callbacks one at a time, in the order they were given. */
  final Executor sequential;
  /** Completes future views. */
  final Executor views;
  private final ExecutorService ownCallbacks;
  private final ForkJoinPool ownViews;
  /** With a user's executor that rejected a callback: the pool's own thread, used from then on. */
  private volatile ExecutorService fallback;
  /** The thread running a callback now, if any. */
  private volatile Thread running;

  private Callbacks(Executor serial, ExecutorService ownCallbacks, Executor views, ForkJoinPool ownViews) {
    this.ownCallbacks = ownCallbacks;
    this.ownViews = ownViews;
    this.views = views;
    Executor tracked = r -> serial.execute(() -> {
      running = Thread.currentThread();
      try {
        r.run();
      } finally {
        running = null;
      }
    });
    if (ownCallbacks != null) {
      this.sequential = tracked;
    } else {
      // The user's executor may reject (shut down, saturated): callbacks then go on, still one at a
      // time and in order, on a thread of the pool's own rather than on transport threads.
      this.sequential = r -> {
        ExecutorService f = fallback;
        if (f == null) {
          try {
            tracked.execute(r);
            return;
          } catch (RejectedExecutionException e) {
            f = fallback();
          }
        }
        f.execute(() -> {
          running = Thread.currentThread();
          try {
            r.run();
          } finally {
            running = null;
          }
        });
      };
    }
  }

  private synchronized ExecutorService fallback() {
    if (fallback == null) {
      LOG.log(System.Logger.Level.WARNING, "procpool: the pool's callbackExecutor rejected a callback; callbacks"
          + " run on a thread of the pool's own from now on");
      fallback = Executors.newSingleThreadExecutor(new ThreadFactoryBuilder().setDaemon(true)
          .setNameFormat("procpool-callbacks-fallback").build());
    }
    return fallback;
  }

  /** The pool's own callback thread and view pool. */
  static Callbacks own(int poolId) {
    ExecutorService callbacks = Executors.newSingleThreadExecutor(new ThreadFactoryBuilder().setDaemon(true)
        .setNameFormat("procpool-" + poolId + "-callbacks").build());
    ForkJoinPool views = new ForkJoinPool(Math.min(2, Runtime.getRuntime().availableProcessors()), p -> {
      ForkJoinWorkerThread t = ForkJoinPool.defaultForkJoinWorkerThreadFactory.newThread(p);
      t.setDaemon(true);
      t.setName("procpool-" + poolId + "-futures-" + t.getPoolIndex());
      return t;
    }, null, true);
    return new Callbacks(callbacks, callbacks, views, views);
  }

  /** The user's executor: callbacks fed to it one at a time, views completed on it directly. */
  static Callbacks on(Executor executor) {
    ViewTracker tracker = new ViewTracker();
    Executor views = r -> {
      tracker.started();
      try {
        executor.execute(() -> {
          IN_VIEW.set(Boolean.TRUE);
          try {
            r.run();
          } finally {
            IN_VIEW.remove();
            tracker.ended();
          }
        });
      } catch (RuntimeException e) {
        tracker.ended();
        throw e;
      }
    };
    Callbacks c = new Callbacks(MoreExecutors.newSequentialExecutor(executor), null, views, null);
    c.viewTracker = tracker;
    return c;
  }

  /** View stages handed to the user's executor and not finished yet: close() waits for them. */
  private static final class ViewTracker {
    private int inFlight;

    synchronized void started() {
      inFlight++;
    }

    synchronized void ended() {
      if (--inFlight == 0) {
        notifyAll();
      }
    }

    /** Waits until no view stage runs or waits to run; false if that took longer than the limit. */
    synchronized boolean awaitNone(long millis) throws InterruptedException {
      long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
      while (inFlight > 0) {
        long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
        if (left <= 0) {
          return false;
        }
        wait(left);
      }
      return true;
    }
  }

  private ViewTracker viewTracker;

  /** Set while a view stage runs on the user's executor (close() there must not wait for callbacks). */
  private static final ThreadLocal<Boolean> IN_VIEW = new ThreadLocal<>();

  /**
   * Where a new map's progress calls run: the callback executor, unless the map is started from a
   * callback (which then waits for the map, so the callback executor cannot make its calls): then
   * one at a time on the view executor.
   */
  Executor forProgress() {
    return onCallbackThread() ? MoreExecutors.newSequentialExecutor(views) : sequential;
  }

  /** Whether the current thread runs one of this pool's callbacks or (own pool) views. */
  boolean onCallbackThread() {
    Thread current = Thread.currentThread();
    return current == running
        || IN_VIEW.get() != null
        || (ownViews != null && current instanceof ForkJoinWorkerThread
            && ((ForkJoinWorkerThread) current).getPool() == ownViews);
  }

  /**
   * After the pool ended: waits (up to 30 s) until the callbacks queued so far have run, and stops
   * the pool's own threads. Does not wait when called from a callback (it would wait for itself).
   */
  void finish() {
    boolean wait = !onCallbackThread();
    try {
      if (ownCallbacks != null) {
        ownCallbacks.shutdown();
        ownViews.shutdown();
        if (wait && !ownCallbacks.awaitTermination(30, TimeUnit.SECONDS)) {
          LOG.log(System.Logger.Level.WARNING, "procpool: a callback still runs 30 s after the pool ended"
              + " (is it waiting for something that never comes?); close() returns without it");
        }
        if (wait && !ownViews.awaitTermination(30, TimeUnit.SECONDS)) {
          LOG.log(System.Logger.Level.WARNING, "procpool: a CompletableFuture stage still runs 30 s after the"
              + " pool ended; close() returns without it");
        }
      } else {
        if (wait) {
          CountDownLatch drained = new CountDownLatch(1);
          sequential.execute(drained::countDown);
          if (!drained.await(30, TimeUnit.SECONDS)) {
            LOG.log(System.Logger.Level.WARNING, "procpool: the callbacks queued on the pool's callbackExecutor"
                + " did not run within 30 s after the pool ended; close() returns without them");
          }
          if (!viewTracker.awaitNone(30_000)) {
            LOG.log(System.Logger.Level.WARNING, "procpool: CompletableFuture stages on the pool's"
                + " callbackExecutor still run 30 s after the pool ended; close() returns without them");
          }
        }
        ExecutorService f = fallback;
        if (f != null) {
          f.shutdown();
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
