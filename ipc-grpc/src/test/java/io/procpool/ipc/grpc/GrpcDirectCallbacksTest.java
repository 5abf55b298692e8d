package io.procpool.ipc.grpc;

import static io.procpool.ipc.grpc.Fixtures.TIMEOUT_SECONDS;
import static io.procpool.ipc.grpc.Fixtures.utf8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.procpool.api.spi.Connection;
import io.procpool.api.spi.TransportOptions;
import java.nio.ByteBuffer;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The same transport with {@code grpc.directCallbacks=true}: listeners on the event loop (never blocking). */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class GrpcDirectCallbacksTest {
  private static final TransportOptions DIRECT =
      Fixtures.options(TransportOptions.DEFAULT_MAX_FRAME_SIZE, Map.of(Settings.DIRECT_CALLBACKS, "true"));

  private Fixtures.Server server;
  private Connection client;
  private Connection parent;

  @BeforeEach
  void connect() throws Exception {
    server = new Fixtures.Server(DIRECT);
    client = new GrpcTransportProvider().connect(server.server.address(), DIRECT);
    parent = server.next();
  }

  @AfterEach
  void close() {
    client.close();
    server.close();
  }

  @Test
  void roundTripAndCleanClose() throws Exception {
    Fixtures.Recorder atParent = new Fixtures.Recorder();
    Fixtures.Recorder atWorker = new Fixtures.Recorder();
    parent.start(atParent);
    client.start(atWorker);
    client.write(utf8("ping"));
    client.flush();
    assertEquals("ping", utf8(atParent.take()));
    parent.write(utf8("pong"));
    parent.flush();
    assertEquals("pong", utf8(atWorker.take()));
    client.close();
    assertNull(atWorker.awaitClosed());
    assertNull(atParent.awaitClosed());
  }

  @Test
  void bigRepliesFlushedInsideTheListenerAllArrive() throws Exception {
    int count = 32;
    parent.start(new Fixtures.Recorder() {
      @Override
      public void onMessage(ByteBuffer message) {
        for (int i = 0; i < count; i++) {
          parent.write(ByteBuffer.allocate(1024 * 1024).putInt(0, i));
        }
        try {
          parent.flush(); // on the event loop: must not wait for the peer's window
        } catch (java.io.IOException e) {
          throw new java.io.UncheckedIOException(e);
        }
      }
    });
    AtomicInteger inOrder = new AtomicInteger();
    CountDownLatch all = new CountDownLatch(count);
    client.start(new Fixtures.Recorder() {
      @Override
      public void onMessage(ByteBuffer message) {
        if (message.getInt(0) == inOrder.get()) {
          inOrder.incrementAndGet();
        }
        all.countDown();
      }
    });
    client.write(utf8("go"));
    client.flush();
    assertTrue(all.await(TIMEOUT_SECONDS, TimeUnit.SECONDS));
    assertEquals(count, inOrder.get());
  }

  @Test
  void printLatencyAndThroughput() throws Exception {
    Measure.echo(client, parent, "direct callbacks");
  }
}
