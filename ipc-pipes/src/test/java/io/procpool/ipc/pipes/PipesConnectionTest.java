package io.procpool.ipc.pipes;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.procpool.api.spi.Connection;
import io.procpool.api.spi.ProtocolException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(60)
class PipesConnectionTest extends PipesFixture {

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

  private static void joinReaders(Pair p) throws InterruptedException {
    ((PipesConnection) p.client).readerThread().join();
    ((PipesConnection) p.serverSide).readerThread().join();
  }
}
