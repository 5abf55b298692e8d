package io.procpool.core.internal;

import io.procpool.api.Progress;
import io.procpool.api.ProgressListener;
import java.time.Duration;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Feeds one map's or imap's {@link ProgressListener}: counts items as their chunks' outcomes arrive
 * (on transport threads) and calls the listener on the callback executor, which runs one task at a
 * time, in order: at most one call per {@link #INTERVAL_NANOS} while items arrive (a call reads the
 * counters when it runs, so it is never stale by more than that), then exactly one final call, after
 * which nothing is called.
 */
final class ProgressTracker {
  private static final System.Logger LOG = System.getLogger("io.procpool");
  static final long INTERVAL_NANOS = 100_000_000L;

  private final ProgressListener listener;
  private final Executor callbacks;
  private final PoolClock clock;
  private final long startNanos;
  private final AtomicLong completed = new AtomicLong();
  private final AtomicLong failed = new AtomicLong();
  /** A call is queued on the executor or scheduled on the clock. */
  private final AtomicBoolean pending = new AtomicBoolean();
  private volatile long total;
  private volatile long lastCallNanos;
  private volatile boolean finishing;
  /** Set by the final call, on the (sequential) callback executor. */
  private volatile boolean finalCallMade;
  private volatile boolean listenerThrew;

  ProgressTracker(ProgressListener listener, Executor callbacks, PoolClock clock, long total) {
    this.listener = listener;
    this.callbacks = callbacks;
    this.clock = clock;
    this.total = total;
    this.startNanos = clock.nanoTime();
    this.lastCallNanos = startNanos - INTERVAL_NANOS;
  }

  /** The input turned out to have {@code total} items (an imap's iterator ended). */
  void total(long total) {
    this.total = total;
  }

  /** Items of one chunk have an outcome. */
  void add(long ok, long bad) {
    if (ok > 0) {
      completed.addAndGet(ok);
    }
    if (bad > 0) {
      failed.addAndGet(bad);
    }
    if (finishing || !pending.compareAndSet(false, true)) {
      return;
    }
    long delay = lastCallNanos + INTERVAL_NANOS - clock.nanoTime();
    if (delay <= 0) {
      AsyncResultImpl.execute(callbacks, this::call);
    } else {
      clock.schedule(() -> AsyncResultImpl.execute(callbacks, this::call), delay);
    }
  }

  private void call() {
    pending.set(false); // first: an item counted from now on asks for another call
    if (finalCallMade) {
      return;
    }
    lastCallNanos = clock.nanoTime();
    notify(snapshot());
  }

  /**
   * Makes the final call on the callback executor, then runs {@code then} there (completing the
   * result the caller waits for, so that the final call happens before the caller sees the end).
   * Later calls are dropped.
   */
  void finish(Runnable then) {
    finishing = true;
    AsyncResultImpl.execute(callbacks, () -> {
      try {
        if (!finalCallMade) {
          finalCallMade = true;
          notify(snapshot());
        }
      } finally {
        then.run();
      }
    });
  }

  private Progress snapshot() {
    long t = total;
    long ok = completed.get();
    long bad = failed.get();
    if (t >= 0 && ok + bad > t) {
      t = ok + bad; // cannot happen; never report more done than the total
    }
    return new Progress(ok, bad, t, Duration.ofNanos(Math.max(0, clock.nanoTime() - startNanos)));
  }

  private void notify(Progress p) {
    try {
      listener.onProgress(p);
    } catch (Throwable t) {
      if (!listenerThrew) {
        listenerThrew = true;
        LOG.log(System.Logger.Level.WARNING, "a procpool progress listener threw; the work goes on (later"
            + " failures of this listener are not logged)", t);
      }
    }
  }
}
