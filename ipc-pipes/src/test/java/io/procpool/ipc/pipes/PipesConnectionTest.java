package io.procpool.ipc.pipes;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.procpool.api.spi.Connection;
import io.procpool.api.spi.MessageTooLargeException;
import io.procpool.api.spi.ProtocolException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(60)
class PipesConnectionTest extends PipesFixture {

  @Test
  void roundTripBothDirections() throws Exception {
    startServer();
    Pair p = new Pair();
    p.client.write(utf8("ping"));
    p.client.flush();
    assertEquals("ping", p.serverRec.nextString());
    p.serverSide.write(utf8("pong"));
    p.serverSide.write(ByteBuffer.allocate(0));
    p.serverSide.flush();
    assertEquals("pong", p.clientRec.nextString());
    assertEquals(0, p.clientRec.next().length, "empty messages keep their boundary");
    assertTrue(waitFor(() -> p.serverRec.readCompletes.get() >= 1), "onReadComplete after a run of messages");
    assertTrue(p.client.describe().startsWith("unix:"), p.client.describe());
  }

  @Test
  void writeLeavesTheCallersBufferUntouchedAndSendsOnlyRemainingBytes() throws Exception {
    startServer();
    Pair p = new Pair();
    ByteBuffer b = ByteBuffer.wrap(new byte[] {9, 1, 2, 3, 9});
    b.position(1).limit(4);
    p.client.write(b);
    p.client.flush();
    assertArrayEquals(new byte[] {1, 2, 3}, p.serverRec.next());
    assertEquals(1, b.position());
  }

  @Test
  void hundredThousandSmallMessagesArriveInOrder() throws Exception {
    startServer();
    Pair p = new Pair();
    int n = 100_000;
    for (int i = 0; i < n; i++) {
      p.client.write(ByteBuffer.allocate(8).putInt(i).putInt(~i).flip());
      if (i % 1000 == 999) {
        p.client.flush();
      }
    }
    p.client.flush();
    for (int i = 0; i < n; i++) {
      ByteBuffer m = ByteBuffer.wrap(p.serverRec.next());
      assertEquals(8, m.remaining());
      assertEquals(i, m.getInt());
      assertEquals(~i, m.getInt());
    }
    assertFalse(p.serverRec.concurrentCall);
  }

  @Test
  void concurrentWritersKeepEachThreadsOrderAndLoseNothing() throws Exception {
    startServer();
    Pair p = new Pair();
    int threads = 4;
    int perThread = 20_000;
    CountDownLatch go = new CountDownLatch(1);
    AtomicReference<Throwable> failure = new AtomicReference<>();
    List<Thread> workers = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      int id = t;
      Thread w = new Thread(() -> {
        try {
          go.await();
          Random sizes = new Random(id);
          for (int i = 0; i < perThread; i++) {
            // Mostly small messages, some above the copy threshold to mix both write paths.
            int size = i % 500 == 0 ? PipesConnection.COPY_THRESHOLD + 100 : 8 + sizes.nextInt(40);
            p.client.write(ByteBuffer.allocate(size).putInt(id).putInt(i).position(0));
            if (i % 7 == 0) {
              p.client.flush();
            }
          }
          p.client.flush();
        } catch (Throwable e) {
          failure.set(e);
        }
      });
      w.start();
      workers.add(w);
    }
    go.countDown();
    for (Thread w : workers) {
      w.join(TimeUnit.SECONDS.toMillis(WAIT_SECONDS));
    }
    assertNull(failure.get());
    int[] next = new int[threads];
    for (int k = 0; k < threads * perThread; k++) {
      ByteBuffer m = ByteBuffer.wrap(p.serverRec.next());
      int id = m.getInt();
      int seq = m.getInt();
      assertEquals(next[id], seq, "thread " + id + " out of order");
      next[id]++;
    }
    for (int t = 0; t < threads; t++) {
      assertEquals(perThread, next[t]);
    }
  }

  @Test
  void sixteenMebibyteMessage() throws Exception {
    startServer();
    Pair p = new Pair();
    byte[] big = new byte[16 * 1024 * 1024];
    new Random(42).nextBytes(big);
    p.client.write(utf8("before"));
    p.client.write(ByteBuffer.wrap(big));
    p.client.write(utf8("after"));
    p.client.flush();
    assertEquals("before", p.serverRec.nextString());
    assertArrayEquals(big, p.serverRec.next());
    assertEquals("after", p.serverRec.nextString());
    // and back, from the server side
    p.serverSide.write(ByteBuffer.wrap(big));
    p.serverSide.flush();
    assertArrayEquals(big, p.clientRec.next());
  }

  @Test
  void oversizeMessageIsRefusedAloneAndTheConnectionStaysUsable() throws Exception {
    startServer();
    Pair p = new Pair();
    p.client.write(utf8("before"));
    MessageTooLargeException e = assertThrows(MessageTooLargeException.class,
        () -> p.client.write(ByteBuffer.allocate(MAX_FRAME + 1)));
    assertEquals(MAX_FRAME + 1, e.size());
    assertEquals(MAX_FRAME, e.limit());
    assertTrue(e.getMessage().contains("exceeds maxFrameSize " + MAX_FRAME), e.getMessage());
    assertTrue(e.getMessage().contains(p.client.describe()), e.getMessage());
    p.client.write(utf8("after"));
    p.client.flush();
    assertEquals("before", p.serverRec.nextString());
    assertEquals("after", p.serverRec.nextString(), "nothing of the refused message was queued");
    // the same on the server side, and a message of exactly maxFrameSize still goes through
    assertThrows(MessageTooLargeException.class, () -> p.serverSide.write(ByteBuffer.allocate(MAX_FRAME + 1)));
    p.serverSide.write(ByteBuffer.allocate(MAX_FRAME));
    p.serverSide.flush();
    assertEquals(MAX_FRAME, p.clientRec.next().length);
    assertEquals(0, p.clientRec.closedCount.get() + p.serverRec.closedCount.get());
  }

  @Test
  void aWriterWhoseInterruptFlagIsSetKeepsItAndTheConnection() throws Exception {
    startServer();
    Pair p = new Pair();
    Thread.currentThread().interrupt();
    try {
      p.client.write(ByteBuffer.allocate(4 * 1024 * 1024));
      p.client.write(utf8("next"));
      p.client.flush();
      assertTrue(Thread.currentThread().isInterrupted(), "the flag is left set for the caller");
    } finally {
      Thread.interrupted();
    }
    assertEquals(4 * 1024 * 1024, p.serverRec.next().length);
    assertEquals("next", p.serverRec.nextString());
    assertEquals(0, p.clientRec.closedCount.get() + p.serverRec.closedCount.get());
  }

  /**
   * One thread writes 16 MiB messages while another interrupts it over and over; a third does small
   * round trips meanwhile. SocketChannel is interruptible: an interrupt during a blocking write used to
   * close the shared connection under everyone.
   */
  @Test
  void interruptStormOnABigWriterNeitherClosesTheConnectionNorLosesMessages() throws Exception {
    startServer();
    Connection client = connect();
    Connection serverSide = nextAccepted();
    int bigSize = 16 * 1024 * 1024;
    int bigCount = 8;
    List<Integer> bigOrder = java.util.Collections.synchronizedList(new ArrayList<>());
    List<String> corrupt = java.util.Collections.synchronizedList(new ArrayList<>());
    java.util.concurrent.Semaphore bigArrived = new java.util.concurrent.Semaphore(0);
    Recorder serverClosed = new Recorder();
    serverSide.start(new Connection.Listener() {
      @Override
      public void onMessage(ByteBuffer m) {
        if (m.remaining() == bigSize) {
          int index = m.getInt(m.position());
          for (int i = m.position() + 4; i < m.limit(); i++) {
            if (m.get(i) != (byte) index) {
              corrupt.add("message " + index + " byte " + i);
              break;
            }
          }
          bigOrder.add(index);
          bigArrived.release();
        } else {
          ByteBuffer echo = ByteBuffer.allocate(m.remaining());
          echo.put(m).flip();
          serverSide.write(echo);
        }
      }

      @Override
      public void onReadComplete() {
        try {
          serverSide.flush();
        } catch (java.io.IOException e) {
          throw new java.io.UncheckedIOException(e);
        }
      }

      @Override
      public void onClosed(Throwable cause) {
        serverClosed.onClosed(cause);
      }
    });
    Recorder clientRec = new Recorder();
    client.start(clientRec);

    AtomicReference<Throwable> writerFailure = new AtomicReference<>();
    java.util.concurrent.atomic.AtomicInteger interruptsSeen = new java.util.concurrent.atomic.AtomicInteger();
    // Made up front, so that the writer spends its time in flush (where the interrupts land).
    List<ByteBuffer> bigs = new ArrayList<>();
    for (int i = 0; i < bigCount; i++) {
      ByteBuffer big = ByteBuffer.allocate(bigSize);
      java.util.Arrays.fill(big.array(), (byte) i);
      bigs.add(big.putInt(0, i));
    }
    // The writer goes round the buffers (re-sending one is safe: nobody modifies them) until it has
    // sent each once and seen enough interrupts, whatever the scheduler does to the interrupter. It
    // sends the next one when the last has arrived: a flush that finds another thread writing leaves
    // the message to that thread, and we want the interrupted thread to do the writing.
    java.util.concurrent.atomic.AtomicInteger sent = new java.util.concurrent.atomic.AtomicInteger();
    Thread writer = new Thread(() -> {
      try {
        for (int k = 0; k < 400 && (k < bigCount || interruptsSeen.get() < 20); k++) {
          client.write(bigs.get(k % bigCount).duplicate());
          sent.incrementAndGet();
          client.flush();
          if (Thread.interrupted()) {
            interruptsSeen.incrementAndGet();
          }
          awaitArrival(bigArrived);
        }
      } catch (Throwable e) {
        writerFailure.set(e);
      }
    }, "big-writer");
    writer.setDaemon(true);
    java.util.concurrent.atomic.AtomicInteger interrupts = new java.util.concurrent.atomic.AtomicInteger();
    Thread interrupter = new Thread(() -> {
      while (writer.getState() == Thread.State.NEW || writer.isAlive()) {
        writer.interrupt();
        interrupts.incrementAndGet();
        java.util.concurrent.locks.LockSupport.parkNanos(50_000); // pacing, not a wait for a condition
      }
    }, "interrupter");
    interrupter.setDaemon(true);
    interrupter.start();
    writer.start();
    int rounds = 0;
    while (writer.isAlive() || rounds < 20) {
      String ping = "ping-" + rounds++;
      client.write(utf8(ping));
      client.flush();
      assertEquals(ping, clientRec.nextString(), "a round trip during the storm");
    }
    writer.join();
    interrupter.join();
    assertNull(writerFailure.get(), () -> "the interrupted writer failed: " + writerFailure.get());
    assertTrue(interruptsSeen.get() >= 20, "the writer was interrupted during its flushes: " + interruptsSeen.get() + " of " + interrupts.get() + " interrupts, " + sent.get() + " sent");
    int total = sent.get();
    assertTrue(waitFor(() -> bigOrder.size() == total), "all big messages arrived: " + bigOrder.size() + " of " + total);
    assertEquals(java.util.stream.IntStream.range(0, total).map(k -> k % bigCount).boxed().toList(), bigOrder,
        "in order");
    assertEquals(List.of(), corrupt);
    assertEquals(0, clientRec.closedCount.get(), "the client side stayed open: " + clientRec.cause);
    assertEquals(0, serverClosed.closedCount.get(), "the server side stayed open: " + serverClosed.cause);
    client.write(utf8("after the storm"));
    client.flush();
    assertEquals("after the storm", clientRec.nextString());
    System.out.printf("interrupt storm: %d interrupts, %d seen by the writer after a flush, %d messages of 16 MiB, "
        + "%d round trips%n", interrupts.get(), interruptsSeen.get(), total, rounds);
  }

  /**
   * The channels are registered with selectors, and a registered channel's socket is only released
   * when its selectors let go of it: closing (either side, started or not, after a writer waited)
   * must release every descriptor.
   */
  @Test
  void closedConnectionsReleaseTheirDescriptors() throws Exception {
    java.nio.file.Path fds = java.nio.file.Path.of("/proc/self/fd");
    org.junit.jupiter.api.Assumptions.assumeTrue(java.nio.file.Files.isDirectory(fds), "needs /proc/self/fd");
    startServer();
    new Pair(); // warm up: the first connection sets up shared resources (SecureRandom, timer)
    long before = countFds(fds);
    List<Pair> pairs = new ArrayList<>();
    for (int i = 0; i < 40; i++) {
      Pair p = new Pair();
      p.client.write(ByteBuffer.allocate(4 * 1024 * 1024)); // big enough that the writer waits in its selector
      p.client.flush();
      assertEquals(4 * 1024 * 1024, p.serverRec.next().length);
      pairs.add(p);
    }
    Connection unstarted = connect();
    Connection unstartedPeer = nextAccepted();
    assertTrue(countFds(fds) >= before + 80, "the connections hold descriptors");
    for (int i = 0; i < pairs.size(); i++) {
      Pair p = pairs.get(i);
      if (i % 2 == 0) {
        p.client.close(); // the server side then sees the end of stream
      } else {
        p.serverSide.close();
      }
      p.clientRec.awaitClosed();
      p.serverRec.awaitClosed();
    }
    unstarted.close();
    unstartedPeer.close();
    // A leak would be per connection (40 pairs: 80 or more); allow a few the JVM opens meanwhile (class loading).
    assertTrue(waitFor(() -> countFds(fds) <= before + 10), "descriptors left open: " + (countFds(fds) - before));
  }

  private static long countFds(java.nio.file.Path fds) {
    try (java.util.stream.Stream<java.nio.file.Path> s = java.nio.file.Files.list(fds)) {
      return s.count();
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  /** Waits for a permit through the interrupt storm; clears the flag (only flushes count it). */
  private static void awaitArrival(java.util.concurrent.Semaphore arrived) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_SECONDS);
    while (System.nanoTime() < deadline) {
      try {
        if (arrived.tryAcquire(100, TimeUnit.MILLISECONDS)) {
          Thread.interrupted();
          return;
        }
      } catch (InterruptedException e) {
        // the storm: keep waiting
      }
    }
    throw new AssertionError("a 16 MiB message did not arrive within " + WAIT_SECONDS + " s");
  }

  private static boolean waitFor(java.util.function.BooleanSupplier condition) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_SECONDS);
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        return false;
      }
      Thread.sleep(10); // polling a condition with a deadline
    }
    return true;
  }

  @Test
  void oversizedFrameLengthClosesWithProtocolExceptionWithoutAllocating() throws Exception {
    startServer();
    SocketChannel raw = rawConnect();
    assertEquals(0, rawHandshake(raw, KEY, 2));
    Connection serverSide = nextAccepted();
    Recorder rec = new Recorder();
    serverSide.start(rec);
    writeAll(raw, ByteBuffer.allocate(8).putInt(0x7FFFFFFF).putInt(0).flip());
    Throwable cause = rec.awaitClosed();
    assertInstanceOf(ProtocolException.class, cause);
    assertTrue(cause.getMessage().contains("2147483647") && cause.getMessage().contains("maxFrameSize"),
        cause.getMessage());
    assertEquals(0, readToEof(raw), "the server closed the offending connection");
    assertGoodClientServed();
  }

  @Test
  void negativeFrameLengthIsAProtocolError() throws Exception {
    startServer();
    SocketChannel raw = rawConnect();
    assertEquals(0, rawHandshake(raw, KEY, 2));
    Connection serverSide = nextAccepted();
    Recorder rec = new Recorder();
    serverSide.start(rec);
    writeAll(raw, ByteBuffer.allocate(4).putInt(-5).flip());
    assertInstanceOf(ProtocolException.class, rec.awaitClosed());
  }

  @Test
  void truncatedFrameIsAProtocolError() throws Exception {
    startServer();
    SocketChannel raw = rawConnect();
    assertEquals(0, rawHandshake(raw, KEY, 2));
    Connection serverSide = nextAccepted();
    Recorder rec = new Recorder();
    serverSide.start(rec);
    writeAll(raw, ByteBuffer.allocate(14).putInt(4).putInt(7).putInt(100).putShort((short) 1).flip());
    raw.close();
    Throwable cause = rec.awaitClosed();
    assertInstanceOf(ProtocolException.class, cause);
    assertTrue(cause.getMessage().contains("truncated frame"), cause.getMessage());
    assertArrayEquals(new byte[] {0, 0, 0, 7}, rec.next(), "the complete frame before it was delivered");
  }

  @Test
  void truncatedLargeFrameIsAProtocolError() throws Exception {
    startServer();
    SocketChannel raw = rawConnect();
    assertEquals(0, rawHandshake(raw, KEY, 2));
    Connection serverSide = nextAccepted();
    Recorder rec = new Recorder();
    serverSide.start(rec);
    writeAll(raw, ByteBuffer.allocate(4 + 200_000).putInt(1_000_000).position(0));
    raw.close();
    Throwable cause = rec.awaitClosed();
    assertInstanceOf(ProtocolException.class, cause);
    assertTrue(cause.getMessage().contains("truncated frame"), cause.getMessage());
  }

  @Test
  void onClosedExactlyOnceWhenThePeerCloses() throws Exception {
    startServer();
    Pair p = new Pair();
    p.client.close();
    assertNull(p.serverRec.awaitClosed(), "a clean end of stream has no cause");
    assertNull(p.clientRec.awaitClosed());
    p.serverSide.close();
    p.serverSide.close();
    joinReaders(p);
    assertEquals(1, p.serverRec.closedCount.get());
    assertEquals(1, p.clientRec.closedCount.get());
  }

  @Test
  void onClosedExactlyOnceOnLocalCloseRacingWithPeerClose() throws Exception {
    startServer();
    for (int i = 0; i < 20; i++) {
      Pair p = new Pair();
      Thread other = new Thread(p.serverSide::close);
      other.start();
      p.client.close();
      other.join();
      p.client.close();
      assertNull(p.clientRec.awaitClosed());
      assertNull(p.serverRec.awaitClosed());
      joinReaders(p);
      assertEquals(1, p.clientRec.closedCount.get());
      assertEquals(1, p.serverRec.closedCount.get());
    }
  }

  @Test
  void closeBeforeStartStillReportsOnClosedOnce() throws Exception {
    startServer();
    Connection c = connect();
    c.close();
    Recorder rec = new Recorder();
    c.start(rec);
    assertNull(rec.awaitClosed());
    ((PipesConnection) c).readerThread().join();
    assertEquals(1, rec.closedCount.get());
  }

  @Test
  void writeAfterCloseIsDroppedSilently() throws Exception {
    startServer();
    Pair p = new Pair();
    p.client.close();
    p.client.write(utf8("dropped"));
    p.client.flush(); // a local close is not an error
    assertNull(p.serverRec.awaitClosed());
    assertTrue(p.serverRec.messages.isEmpty());
  }

  @Test
  void flushOnABrokenConnectionThrowsAndOnClosedCarriesTheCause() throws Exception {
    startServer();
    Connection client = connect();
    nextAccepted().close(); // the peer goes away; the client is not started, so it has not noticed
    client.write(ByteBuffer.allocate(100_000));
    java.io.IOException thrown = assertThrows(java.io.IOException.class, () -> {
      for (int i = 0; i < 100; i++) { // the first write may still land in the socket buffer
        client.write(ByteBuffer.allocate(100_000));
        client.flush();
      }
    });
    Recorder rec = new Recorder();
    client.start(rec);
    Throwable cause = rec.awaitClosed();
    assertInstanceOf(java.io.IOException.class, cause);
    assertEquals(thrown, cause);
    client.write(utf8("dropped"));
    assertThrows(java.io.IOException.class, client::flush, "a broken connection stays broken");
  }

  @Test
  void aListenerThatThrowsClosesTheConnectionWithThatCause() throws Exception {
    startServer();
    Connection client = connect();
    Connection serverSide = nextAccepted();
    client.start(new Recorder());
    RuntimeException boom = new IllegalStateException("boom");
    CountDownLatch closed = new CountDownLatch(1);
    AtomicReference<Throwable> cause = new AtomicReference<>();
    serverSide.start(new Connection.Listener() {
      @Override
      public void onMessage(ByteBuffer message) {
        throw boom;
      }

      @Override
      public void onClosed(Throwable c) {
        cause.set(c);
        closed.countDown();
      }
    });
    client.write(utf8("x"));
    client.flush();
    assertTrue(closed.await(WAIT_SECONDS, TimeUnit.SECONDS));
    assertEquals(boom, cause.get());
  }

  private static void joinReaders(Pair p) throws InterruptedException {
    ((PipesConnection) p.client).readerThread().join();
    ((PipesConnection) p.serverSide).readerThread().join();
  }
}
