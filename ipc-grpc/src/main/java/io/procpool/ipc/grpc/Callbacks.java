package io.procpool.ipc.grpc;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The executor on which gRPC runs call callbacks (and so the pool's listeners), shared by every
 * server and channel of this transport in the JVM. gRPC serializes the callbacks of one call on it,
 * so one connection's listener never runs on two threads at once. Daemon threads, reclaimed when
 * idle; never shut down, so a callback that is still due after a close always runs.
 */
final class Callbacks {
  private Callbacks() {}

  private static final AtomicInteger COUNT = new AtomicInteger();

  static final ExecutorService EXECUTOR =
      new ThreadPoolExecutor(0, Integer.MAX_VALUE, 2, TimeUnit.SECONDS, new SynchronousQueue<>(), r -> {
        Thread t = new Thread(r, "procpool-grpc-" + COUNT.incrementAndGet());
        t.setDaemon(true);
        return t;
      });

  /** One daemon thread for the transport's timers (the server's handshake deadline), ended when idle. */
  static final ScheduledExecutorService TIMER;

  static {
    ScheduledThreadPoolExecutor timer = new ScheduledThreadPoolExecutor(1, r -> {
      Thread t = new Thread(r, "procpool-grpc-timer");
      t.setDaemon(true);
      return t;
    });
    timer.setRemoveOnCancelPolicy(true);
    // No thread while nothing is due (mvn exec:java waits for the threads an application left behind).
    timer.setKeepAliveTime(1, TimeUnit.SECONDS);
    timer.allowCoreThreadTimeOut(true);
    TIMER = timer;
  }
}
