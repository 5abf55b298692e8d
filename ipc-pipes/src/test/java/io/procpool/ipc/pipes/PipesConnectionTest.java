package io.procpool.ipc.pipes;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
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
    assertTrue(p.serverRec.readCompletes.get() >= 1, "onReadComplete after a run of messages");
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
  void messageLargerThanMaxFrameSizeIsACallerBug() throws Exception {
    startServer();
    Pair p = new Pair();
    assertThrows(IllegalArgumentException.class, () -> p.client.write(ByteBuffer.allocate(MAX_FRAME + 1)));
  }

  @Test
  void oversizedFrameLengthClosesWithProtocolExceptionWithoutAllocating() throws Exception {
    startServer();
    SocketChannel raw = rawConnect();
    assertEquals(0, rawHandshake(raw, KEY, 1));
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
    assertEquals(0, rawHandshake(raw, KEY, 1));
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
    assertEquals(0, rawHandshake(raw, KEY, 1));
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
    assertEquals(0, rawHandshake(raw, KEY, 1));
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
