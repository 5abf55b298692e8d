package io.procpool.ipc.grpc;

import static io.procpool.ipc.grpc.Fixtures.TIMEOUT_SECONDS;
import static io.procpool.ipc.grpc.Fixtures.utf8;
import static io.procpool.ipc.grpc.Fixtures.options;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.procpool.api.spi.Connection;
import io.procpool.api.spi.ProtocolException;
import io.procpool.api.spi.TransportOptions;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(value = 60, unit = TimeUnit.SECONDS)
class GrpcTransportTest {
  private final GrpcTransportProvider provider = new GrpcTransportProvider();
  private final List<AutoCloseable> toClose = new ArrayList<>();

  @AfterEach
  void closeAll() throws Exception {
    for (int i = toClose.size() - 1; i >= 0; i--) {
      toClose.get(i).close();
    }
  }

  private Fixtures.Server server(TransportOptions options) throws Exception {
    Fixtures.Server s = new Fixtures.Server(options);
    toClose.add(s);
    return s;
  }

  private Connection connect(Fixtures.Server s, TransportOptions options) throws IOException {
    Connection c = provider.connect(s.server.address(), options);
    toClose.add(c::close);
    return c;
  }

  @Test
  void listensOnLoopbackByDefault() throws Exception {
    Fixtures.Server s = server(options());
    assertTrue(s.server.address().startsWith("127.0.0.1:"), s.server.address());
  }

  @Test
  void listensOnAConfiguredAddress() throws Exception {
    Fixtures.Server s = server(new TransportOptions(Fixtures.KEY, 1 << 20, "127.0.0.1:0", Map.of()));
    assertTrue(s.server.address().matches("127\\.0\\.0\\.1:[1-9][0-9]*"), s.server.address());
    Connection client = connect(s, new TransportOptions(Fixtures.KEY, 1 << 20, null, Map.of()));
    Connection parent = s.next();
    Fixtures.Recorder atParent = new Fixtures.Recorder();
    parent.start(atParent);
    client.start(new Fixtures.Recorder());
    client.write(utf8("hi"));
    client.flush();
    assertEquals("hi", utf8(atParent.take()));
  }

  @Test
  void badAddressesAreRejectedClearly() {
    assertThrows(IllegalArgumentException.class, () -> provider.connect("no-port", options()));
    assertThrows(IllegalArgumentException.class, () -> provider.connect("host:99999", options()));
    assertEquals("[::1]:80", Addresses.format("::1", 80));
    assertEquals("::1", Addresses.parse("[::1]:80").getHostString());
  }

  @Test
  void oversizedMessageIsAProtocolErrorAndTheServerKeepsAccepting() throws Exception {
    int limit = 64 * 1024;
    Fixtures.Server s = server(options(limit, Map.of()));
    Connection bad = connect(s, options(1024 * 1024, Map.of()));
    Connection parent = s.next();
    Fixtures.Recorder atParent = new Fixtures.Recorder();
    Fixtures.Recorder atBad = new Fixtures.Recorder();
    parent.start(atParent);
    bad.start(atBad);
    bad.write(ByteBuffer.allocate(limit + 1)); // just over: checked by the transport itself
    bad.flush();
    Throwable cause = atParent.awaitClosed();
    assertInstanceOf(ProtocolException.class, cause);
    assertTrue(cause.getMessage().contains("maxFrameSize " + limit), cause.getMessage());
    assertTrue(atParent.messages.isEmpty());
    assertInstanceOf(IOException.class, atBad.awaitClosed());

    Connection bad2 = connect(s, options(1024 * 1024, Map.of()));
    Connection parent2 = s.next();
    Fixtures.Recorder atParent2 = new Fixtures.Recorder();
    parent2.start(atParent2);
    bad2.start(new Fixtures.Recorder());
    bad2.write(ByteBuffer.allocate(512 * 1024)); // far over: refused by gRPC before it is read
    bad2.flush();
    Throwable cause2 = atParent2.awaitClosed();
    assertInstanceOf(ProtocolException.class, cause2);
    assertTrue(cause2.getMessage().contains("maxFrameSize " + limit), cause2.getMessage());

    Connection good = connect(s, options(limit, Map.of()));
    Connection parent3 = s.next();
    Fixtures.Recorder atParent3 = new Fixtures.Recorder();
    parent3.start(atParent3);
    good.start(new Fixtures.Recorder());
    good.write(ByteBuffer.allocate(limit));
    good.write(utf8("ok"));
    good.flush();
    assertEquals(limit, atParent3.take().length);
    assertEquals("ok", utf8(atParent3.take()));
  }

  @Test
  void wrongKeyIsRefused() throws Exception {
    Fixtures.Server s = server(options());
    byte[] wrong = Fixtures.KEY.clone();
    wrong[0] ^= 1;
    ProtocolException e = assertThrows(ProtocolException.class,
        () -> provider.connect(s.server.address(), Fixtures.options(wrong)));
    assertTrue(e.getMessage().contains("auth key did not match"), e.getMessage());
    // A good client after it is accepted, and it is the only one the acceptor saw.
    connect(s, options());
    s.next();
    assertEquals(1, s.acceptCount.get());
  }

  @Test
  void missingKeyIsRefused() throws Exception {
    Fixtures.Server s = server(options());
    ProtocolException e = assertThrows(ProtocolException.class,
        () -> GrpcTransportProvider.connect(s.server.address(), options(), null));
    assertTrue(e.getMessage().contains("auth key"), e.getMessage());
    connect(s, options());
    s.next();
    assertEquals(1, s.acceptCount.get());
  }

  @Test
  void unreachableServerIsAnIOException() throws Exception {
    int port;
    try (java.net.ServerSocket ss = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      port = ss.getLocalPort();
    }
    IOException e = assertThrows(IOException.class, () -> provider.connect("127.0.0.1:" + port, options()));
    assertFalse(e instanceof ProtocolException);
    assertTrue(e.getMessage().contains("cannot connect"), e.getMessage());
  }

  @Test
  void slowReaderMakesFlushBlock() throws Exception {
    Fixtures.Server s = server(options());
    Connection client = connect(s, options());
    Connection parent = s.next();
    CountDownLatch release = new CountDownLatch(1);
    CountDownLatch firstArrived = new CountDownLatch(1);
    AtomicInteger received = new AtomicInteger();
    int count = 128;
    CountDownLatch all = new CountDownLatch(count);
    parent.start(new Fixtures.Recorder() {
      @Override
      public void onMessage(ByteBuffer message) {
        firstArrived.countDown();
        try {
          release.await();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
        received.incrementAndGet();
        all.countDown();
      }
    });
    client.start(new Fixtures.Recorder());
    AtomicInteger flushed = new AtomicInteger();
    ExecutorService writer = Executors.newSingleThreadExecutor();
    try {
      Future<?> done = writer.submit(() -> {
        for (int i = 0; i < count; i++) {
          client.write(ByteBuffer.allocate(1024 * 1024)); // 128 MiB in total
          client.flush();
          flushed.incrementAndGet();
        }
        return null;
      });
      assertTrue(firstArrived.await(TIMEOUT_SECONDS, TimeUnit.SECONDS));
      // The reader is stuck: the writer must stop long before it has pushed all 128 MiB.
      assertThrows(TimeoutException.class, () -> done.get(2, TimeUnit.SECONDS));
      int stuckAt = flushed.get();
      System.out.printf("grpc: with a blocked reader the writer stopped after %d of %d 1-MiB flushes%n",
          stuckAt, count);
      assertTrue(stuckAt < count / 2, "writer got " + stuckAt + " MiB ahead of a blocked reader");
      release.countDown();
      done.get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
      assertTrue(all.await(TIMEOUT_SECONDS, TimeUnit.SECONDS));
      assertEquals(count, received.get());
    } finally {
      release.countDown();
      writer.shutdownNow();
    }
  }

  /**
   * Listeners run on the event loop, so a flush inside one must not wait for a stalled peer: it
   * returns, its messages stay queued, and the connection reads nothing more until they are sent
   * (backpressure reaches the peer without blocking the loop). Everything arrives, in order.
   */
  @Test
  void flushInsideTheListenerNeverBlocksAndPausesReadingWhileAStalledPeerHoldsItsMessages() throws Exception {
    Fixtures.Server s = server(options());
    Connection client = connect(s, options());
    Connection parent = s.next();
    int count = 32;
    CountDownLatch parentDone = new CountDownLatch(1);
    CountDownLatch secondArrived = new CountDownLatch(1);
    java.util.concurrent.atomic.AtomicReference<Throwable> parentError = new java.util.concurrent.atomic.AtomicReference<>();
    parent.start(new Fixtures.Recorder() {
      @Override
      public void onMessage(ByteBuffer message) {
        if (message.get(0) == 'n') {
          secondArrived.countDown();
          return;
        }
        // Replies from inside the listener: 32 MiB, far more than the stream takes before the peer reads.
        try {
          for (int i = 0; i < count; i++) {
            parent.write(ByteBuffer.allocate(1024 * 1024).putInt(0, i));
            parent.flush();
          }
        } catch (IOException | RuntimeException e) {
          parentError.set(e);
        }
        parentDone.countDown();
      }
    });
    CountDownLatch release = new CountDownLatch(1);
    AtomicInteger received = new AtomicInteger();
    CountDownLatch all = new CountDownLatch(count);
    client.start(new Fixtures.Recorder() {
      @Override
      public void onMessage(ByteBuffer message) {
        try {
          release.await();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
        if (message.getInt(0) == received.get()) {
          received.incrementAndGet();
        }
        all.countDown();
      }
    });
    try {
      client.write(utf8("go"));
      client.flush();
      assertTrue(parentDone.await(TIMEOUT_SECONDS, TimeUnit.SECONDS), "a flush inside the listener blocked");
      assertNull(parentError.get());
      GrpcConnection queued = (GrpcConnection) parent;
      assertTrue(queued.queuedMessages() > 0, "32 MiB went out to a reader that reads nothing");
      client.write(utf8("next"));
      client.flush();
      assertFalse(secondArrived.await(500, TimeUnit.MILLISECONDS),
          "the parent read on while its own replies were stuck in its queue");
      release.countDown();
      assertTrue(all.await(TIMEOUT_SECONDS, TimeUnit.SECONDS));
      assertEquals(count, received.get(), "in order, none lost");
      assertTrue(secondArrived.await(TIMEOUT_SECONDS, TimeUnit.SECONDS), "reading resumed once the replies were sent");
      assertEquals(0, queued.queuedMessages());
    } finally {
      release.countDown();
    }
  }

  /**
   * A small flush may leave the sending to the event loop; a clean close right after it must still
   * send what was flushed, in order, before the stream ends (both sides).
   */
  @Test
  void whatWasFlushedArrivesBeforeAnImmediateCleanCloseOnEitherSide() throws Exception {
    Fixtures.Server s = server(options());
    int count = 300;
    for (boolean fromClient : new boolean[] {true, false}) {
      Connection client = connect(s, options());
      Connection parent = s.next();
      Fixtures.Recorder atParent = new Fixtures.Recorder();
      Fixtures.Recorder atClient = new Fixtures.Recorder();
      parent.start(atParent);
      client.start(atClient);
      Connection sender = fromClient ? client : parent;
      Fixtures.Recorder receiver = fromClient ? atParent : atClient;
      for (int i = 0; i < count; i++) {
        sender.write(ByteBuffer.allocate(16).putInt(0, i));
        sender.flush();
      }
      sender.close();
      for (int i = 0; i < count; i++) {
        byte[] m = receiver.messages.poll(TIMEOUT_SECONDS, TimeUnit.SECONDS);
        assertTrue(m != null, "message " + i + " of " + count + " flushed by the " + (fromClient ? "client" : "parent")
            + " before it closed did not arrive");
        assertEquals(i, ByteBuffer.wrap(m).getInt(0));
      }
      receiver.awaitClosed();
      assertEquals(0, receiver.messages.size());
    }
  }

  /**
   * Application threads flushing at once leave their small flushes to the event loop; whichever of
   * them schedules the loop's drain, every message flushed by any of them must arrive (with the
   * connection still open: nothing but those drains sends them), once, each thread's in its order
   * (both sides).
   */
  @Test
  void concurrentSmallFlushesAllArriveInEachThreadsOrder() throws Exception {
    Fixtures.Server s = server(options());
    int threads = 4;
    int perThread = 300;
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try {
      for (boolean fromClient : new boolean[] {true, false}) {
        Connection client = connect(s, options());
        Connection parent = s.next();
        Fixtures.Recorder atParent = new Fixtures.Recorder();
        Fixtures.Recorder atClient = new Fixtures.Recorder();
        parent.start(atParent);
        client.start(atClient);
        Connection sender = fromClient ? client : parent;
        Fixtures.Recorder receiver = fromClient ? atParent : atClient;
        CountDownLatch go = new CountDownLatch(1);
        List<Future<?>> done = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
          int id = t;
          done.add(pool.submit(() -> {
            go.await();
            for (int i = 0; i < perThread; i++) {
              sender.write(ByteBuffer.allocate(8).putInt(0, id).putInt(4, i));
              sender.flush();
            }
            return null;
          }));
        }
        go.countDown();
        for (Future<?> f : done) {
          f.get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
        }
        int[] next = new int[threads];
        for (int n = 0; n < threads * perThread; n++) {
          byte[] m = receiver.messages.poll(TIMEOUT_SECONDS, TimeUnit.SECONDS);
          assertTrue(m != null, "only " + n + " of " + threads * perThread + " messages flushed by the "
              + (fromClient ? "client" : "parent") + " arrived");
          ByteBuffer b = ByteBuffer.wrap(m);
          int id = b.getInt(0);
          assertEquals(next[id], b.getInt(4), "thread " + id + "'s messages out of order or repeated");
          next[id]++;
        }
        sender.close();
        receiver.awaitClosed();
        assertEquals(0, receiver.messages.size());
      }
    } finally {
      pool.shutdownNow();
      assertTrue(pool.awaitTermination(TIMEOUT_SECONDS, TimeUnit.SECONDS));
    }
  }

  @Test
  void printLatencyAndThroughput() throws Exception {
    Fixtures.Server s = server(options());
    Connection client = connect(s, options());
    Measure.echo(client, s.next(), "in-process, cold JIT");
  }
}
