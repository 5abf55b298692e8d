package io.procpool.core.internal;

import io.procpool.api.spi.Connection;
import io.procpool.api.spi.TransportOptions;
import io.procpool.api.spi.TransportProvider;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/** Starts in-JVM workers: a thread per worker, connected through the transport like a process. */
final class ThreadLauncher implements WorkerLauncher {
  private final TransportProvider provider;
  private final TransportOptions options;

  ThreadLauncher(TransportProvider provider, byte[] authKey, int maxFrameSize) {
    this.provider = provider;
    this.options = new TransportOptions(authKey, maxFrameSize, null, Map.of());
  }

  @Override
  public Launched launch(int workerId, String address) {
    CompletableFuture<Integer> exit = new CompletableFuture<>();
    Thread thread = new Thread(() -> {
      try {
        Connection c = provider.connect(address, options);
        try {
          new WorkerRuntime(c, workerId, options.maxFrameSize(), false).run();
        } finally {
          c.close();
        }
        exit.complete(0);
      } catch (InterruptedException e) {
        exit.complete(1);
      } catch (Throwable t) {
        exit.complete(1);
      }
    }, "procpool-worker-thread-" + workerId);
    thread.setDaemon(true);
    thread.start();
    return new Launched() {
      @Override
      public long pid() {
        return ProcessHandle.current().pid();
      }

      @Override
      public CompletableFuture<Integer> onExit() {
        return exit;
      }

      @Override
      public void kill() {
        // A thread cannot be killed: abandon it. It is interrupted, and whatever it produces is dropped
        // because the pool has closed its connection.
        thread.interrupt();
        exit.complete(null);
      }

      @Override
      public String stderrTail() {
        return "";
      }
    };
  }
}
