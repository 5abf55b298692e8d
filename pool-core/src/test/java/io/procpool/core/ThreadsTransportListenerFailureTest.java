package io.procpool.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;

import io.procpool.api.spi.Connection;
import io.procpool.api.spi.TransportOptions;
import io.procpool.api.spi.TransportServer;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Issue 10 point 8, threads side: a listener that throws closes its connection with the throwable. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ThreadsTransportListenerFailureTest {
  private static final byte[] KEY = "0123456789abcdef-threads".getBytes(StandardCharsets.US_ASCII);

  private static final class Closing implements Connection.Listener {
    final CompletableFuture<Throwable> closed = new CompletableFuture<>();
    final AtomicInteger closedCount = new AtomicInteger();
    final RuntimeException or;
    final Error orError;

    Closing(RuntimeException or, Error orError) {
      this.or = or;
      this.orError = orError;
    }

    @Override
    public void onMessage(ByteBuffer message) {
      if (or != null) {
        throw or;
      }
      if (orError != null) {
        throw orError;
      }
    }

    @Override
    public void onClosed(Throwable cause) {
      closedCount.incrementAndGet();
      closed.complete(cause == null ? new NullPointerException("clean end") : cause);
    }
  }

  private static void check(RuntimeException re, Error err) throws Exception {
    ThreadsTransportProvider provider = new ThreadsTransportProvider();
    TransportOptions options = new TransportOptions(KEY, 1 << 20, null, Map.of());
    BlockingQueue<Connection> accepted = new LinkedBlockingQueue<>();
    try (TransportServer server = provider.listen(options, accepted::add)) {
      Connection worker = provider.connect(server.address(), options);
      Connection parent = accepted.poll(30, TimeUnit.SECONDS);
      assertNotNull(parent);
      Closing atParent = new Closing(re, err);
      Closing atWorker = new Closing(null, null);
      parent.start(atParent);
      worker.start(atWorker);
      worker.write(ByteBuffer.wrap(new byte[] {1}));
      worker.flush();
      Throwable cause = atParent.closed.get(30, TimeUnit.SECONDS);
      assertSame(re != null ? re : err, cause);
      // The worker hears the end: it is not left waiting on a connection nobody reads.
      atWorker.closed.get(30, TimeUnit.SECONDS);
      assertEquals(1, atParent.closedCount.get());
    }
  }

  @Test
  void anErrorInTheListenerClosesTheConnectionWithIt() throws Exception {
    check(null, new AssertionError("listener bug"));
  }

  @Test
  void aRuntimeExceptionInTheListenerClosesTheConnectionWithIt() throws Exception {
    check(new IllegalStateException("listener bug"), null);
  }
}
