package io.procpool.ipc.grpc;

import static io.procpool.ipc.grpc.Fixtures.options;
import static io.procpool.ipc.grpc.Fixtures.utf8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.procpool.api.spi.Connection;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * An interrupt landing while a gRPC flush waits for a stalled peer; the rest of the SPI contract is
 * in {@link GrpcConnectionContractTest}.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class GrpcConnectionHardeningTest {
  private final GrpcTransportProvider provider = new GrpcTransportProvider();
  private final List<AutoCloseable> toClose = new ArrayList<>();

  @AfterEach
  void closeAll() throws Exception {
    Thread.interrupted(); // a failed test must not leave the flag to the next one
    for (int i = toClose.size() - 1; i >= 0; i--) {
      toClose.get(i).close();
    }
  }

  private Fixtures.Server server() throws Exception {
    Fixtures.Server s = new Fixtures.Server(options());
    toClose.add(s);
    return s;
  }

  private Connection connect(Fixtures.Server s, int maxFrameSize) throws IOException {
    Connection c = provider.connect(s.server.address(), options(maxFrameSize, Map.of()));
    toClose.add(c::close);
    return c;
  }

  @Test
  void anInterruptDuringABlockedFlushDoesNotBreakTheConnection() throws Exception {
    Fixtures.Server s = server();
    Connection client = connect(s, 1 << 20);
    client.start(new Fixtures.Recorder());
    Connection parent = s.next();
    CountDownLatch release = new CountDownLatch(1);
    CountDownLatch first = new CountDownLatch(1);
    Fixtures.Recorder atParent = new Fixtures.Recorder() {
      @Override
      public void onMessage(ByteBuffer message) {
        first.countDown();
        try {
          release.await(); // a stalled reader: the writer's flush blocks on flow control
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
        super.onMessage(message);
      }
    };
    parent.start(atParent);
    int n = 64;
    AtomicReference<Throwable> failure = new AtomicReference<>();
    AtomicBoolean flagAfter = new AtomicBoolean();
    Thread writer = new Thread(() -> {
      try {
        for (int i = 0; i < n; i++) {
          client.write(ByteBuffer.allocate(256 * 1024));
        }
        client.flush();
        flagAfter.set(Thread.currentThread().isInterrupted());
      } catch (Throwable t) {
        failure.set(t);
      }
    });
    writer.start();
    assertTrue(first.await(30, TimeUnit.SECONDS));
    // Wait until the writer is parked in flush (flow control), then interrupt it.
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (writer.getState() != Thread.State.TIMED_WAITING && writer.getState() != Thread.State.WAITING) {
      assertTrue(System.nanoTime() < deadline, "the writer never blocked");
      Thread.onSpinWait();
    }
    writer.interrupt();
    release.countDown();
    writer.join(TimeUnit.SECONDS.toMillis(30));
    assertEquals(null, failure.get());
    assertTrue(flagAfter.get(), "the interrupt flag was not kept");
    for (int i = 0; i < n; i++) {
      atParent.take();
    }
    assertEquals(1, atParent.closed.getCount());
  }

  private void assertServerStillServes(Fixtures.Server s) throws Exception {
    Connection c = connect(s, 1 << 20);
    Fixtures.Recorder atC = new Fixtures.Recorder();
    c.start(atC);
    Connection p = s.next();
    Fixtures.Recorder atP = new Fixtures.Recorder();
    p.start(atP);
    c.write(utf8("still here"));
    c.flush();
    assertEquals("still here", utf8(atP.take()));
  }
}
