package io.procpool.ipc.pipes;

import java.io.Closeable;
import java.io.IOException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/** One shared daemon timer that closes channels whose handshake takes too long; its thread ends when idle. */
final class Timeouts {
  private static final ScheduledThreadPoolExecutor TIMER = newTimer();

  private Timeouts() {}

  private static ScheduledThreadPoolExecutor newTimer() {
    ScheduledThreadPoolExecutor timer = new ScheduledThreadPoolExecutor(1, r -> {
      Thread t = new Thread(r, "procpool-pipes-timer");
      t.setDaemon(true);
      return t;
    });
    timer.setRemoveOnCancelPolicy(true);
    // No thread while nothing is due: an application that closed its pools keeps no procpool thread
    // (mvn exec:java waits for the threads an application left behind).
    timer.setKeepAliveTime(1, TimeUnit.SECONDS);
    timer.allowCoreThreadTimeOut(true);
    return timer;
  }

  /** A pending deadline: closes the resource when it expires, unless cancelled first. */
  static final class Deadline {
    private final AtomicBoolean expired = new AtomicBoolean();
    private final ScheduledFuture<?> future;

    private Deadline(Closeable resource, long millis) {
      this.future = TIMER.schedule(() -> {
        expired.set(true);
        try {
          resource.close();
        } catch (IOException ignored) {
          // Nothing more to do.
        }
      }, millis, TimeUnit.MILLISECONDS);
    }

    /** Cancels the deadline; returns {@code true} if it had already expired (the resource is closed). */
    boolean cancel() {
      // cancel() fails only when the task has started: the resource is closed or about to be.
      return !future.cancel(false) || expired.get();
    }

    boolean expired() {
      return expired.get();
    }
  }

  static Deadline closeAfter(Closeable resource, long millis) {
    return new Deadline(resource, millis);
  }
}
