package io.procpool.ipc.grpc;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.procpool.api.spi.Connection;
import io.procpool.api.spi.TransportOptions;
import io.procpool.api.spi.TransportServer;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/** Shared helpers of the transport tests. */
final class Fixtures {
  private Fixtures() {}

  static final long TIMEOUT_SECONDS = 30;
  static final byte[] KEY = "0123456789abcdef-test-key".getBytes(StandardCharsets.US_ASCII);

  static TransportOptions options() {
    return options(TransportOptions.DEFAULT_MAX_FRAME_SIZE, Map.of());
  }

  static TransportOptions options(int maxFrameSize, Map<String, String> properties) {
    return new TransportOptions(KEY, maxFrameSize, null, properties);
  }

  static TransportOptions options(byte[] key) {
    return new TransportOptions(key, TransportOptions.DEFAULT_MAX_FRAME_SIZE, null, Map.of());
  }

  static ByteBuffer utf8(String s) {
    return ByteBuffer.wrap(s.getBytes(StandardCharsets.UTF_8));
  }

  static String utf8(byte[] b) {
    return new String(b, StandardCharsets.UTF_8);
  }

  /** A server whose accepted connections land in a queue. */
  static final class Server implements AutoCloseable {
    final TransportServer server;
    final BlockingQueue<Connection> accepted = new LinkedBlockingQueue<>();
    final AtomicInteger acceptCount = new AtomicInteger();

    Server(TransportOptions options) throws Exception {
      server = new GrpcTransportProvider().listen(options, c -> {
        acceptCount.incrementAndGet();
        accepted.add(c);
      });
    }

    Connection next() throws InterruptedException {
      Connection c = accepted.poll(TIMEOUT_SECONDS, TimeUnit.SECONDS);
      if (c == null) {
        fail("no connection accepted within " + TIMEOUT_SECONDS + " s");
      }
      return c;
    }

    @Override
    public void close() {
      server.close();
    }
  }

  /** Records what a connection delivers. */
  static class Recorder implements Connection.Listener {
    final BlockingQueue<byte[]> messages = new LinkedBlockingQueue<>();
    final CountDownLatch closed = new CountDownLatch(1);
    final AtomicInteger closedCount = new AtomicInteger();
    final AtomicReference<Throwable> cause = new AtomicReference<>();
    final AtomicInteger concurrent = new AtomicInteger();
    volatile boolean overlapped;

    @Override
    public void onMessage(ByteBuffer message) {
      enter();
      try {
        byte[] b = new byte[message.remaining()];
        message.get(b);
        messages.add(b);
      } finally {
        exit();
      }
    }

    @Override
    public void onClosed(Throwable cause) {
      enter();
      try {
        this.cause.set(cause);
        closedCount.incrementAndGet();
        closed.countDown();
      } finally {
        exit();
      }
    }

    void enter() {
      if (concurrent.incrementAndGet() != 1) {
        overlapped = true;
      }
    }

    void exit() {
      concurrent.decrementAndGet();
    }

    byte[] take() throws InterruptedException {
      byte[] b = messages.poll(TIMEOUT_SECONDS, TimeUnit.SECONDS);
      if (b == null) {
        fail("no message within " + TIMEOUT_SECONDS + " s");
      }
      return b;
    }

    Throwable awaitClosed() throws InterruptedException {
      assertTrue(closed.await(TIMEOUT_SECONDS, TimeUnit.SECONDS), "onClosed was not called");
      return cause.get();
    }
  }
}
