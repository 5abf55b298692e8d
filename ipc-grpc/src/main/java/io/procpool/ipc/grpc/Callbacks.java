package io.procpool.ipc.grpc;

import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * The transport's timer. (Call callbacks, and so the pool's listeners, run on Netty's event loops:
 * gRPC's direct executor; see {@link GrpcConnection}.)
 */
final class Callbacks {
  private Callbacks() {}

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
