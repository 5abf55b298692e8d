package io.procpool.ipc.pipes;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.procpool.api.spi.Connection;
import io.procpool.api.spi.ProtocolException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Frames larger than the read buffer are lent ({@link Connection.Listener#onLentMessage}): a buffer the
 * listener gives back is read into again by the next large frame, one that it keeps is never touched
 * again, a second release changes nothing, and the kept spare is dropped when unused or closed.
 */
@Timeout(60)
class PipesLentMessageTest extends PipesFixture {
  static final int LARGEST_SLICED = PipesConnection.READ_BUFFER_SIZE - 4;

  /** Records lent messages with their release; releases at once when {@code releaseAtOnce}. */
  static final class Lender implements Connection.Listener {
    final boolean releaseAtOnce;
    final BlockingQueue<Object[]> got = new LinkedBlockingQueue<>(); // {byte[] content, ByteBuffer, Runnable}
    final BlockingQueue<Throwable> closed = new LinkedBlockingQueue<>();

    Lender(boolean releaseAtOnce) {
      this.releaseAtOnce = releaseAtOnce;
    }

    @Override
    public void onMessage(ByteBuffer message) {
      got.add(new Object[] {copy(message), null, null}); // a slice of the read buffer: copied
    }

    @Override
    public void onLentMessage(ByteBuffer message, Runnable release) {
      // Checked here, before the release: what the reader filled is exactly the frame.
      got.add(new Object[] {copy(message.duplicate()), message, release});
      if (releaseAtOnce) {
        release.run();
      }
    }

    @Override
    public void onClosed(Throwable cause) {
      closed.add(cause == null ? new Throwable("clean") : cause);
    }

    Object[] next() throws InterruptedException {
      Object[] m = got.poll(WAIT_SECONDS, TimeUnit.SECONDS);
      assertNotNull(m, "no message arrived in time");
      return m;
    }
  }

  static byte[] copy(ByteBuffer b) {
    byte[] out = new byte[b.remaining()];
    b.get(out);
    return out;
  }

  static byte[] pattern(int size, int seed) {
    byte[] b = new byte[size];
    for (int i = 0; i < size; i++) {
      b[i] = (byte) (seed * 31 + i * 7);
    }
    return b;
  }

  static void awaitTrue(BooleanSupplier condition, String what) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_SECONDS);
    while (!condition.getAsBoolean()) {
      assertTrue(System.nanoTime() < deadline, "timed out waiting until " + what);
      Thread.sleep(5);
    }
  }

  private PipesConnection serverSide(Connection.Listener listener) throws InterruptedException {
    PipesConnection c = (PipesConnection) nextAccepted();
    c.start(listener);
    return c;
  }

  private static void send(Connection client, int size, int seed) throws Exception {
    client.write(ByteBuffer.wrap(pattern(size, seed)));
    client.flush();
  }

  @Test
  void aGivenBackBufferIsReadIntoAgainAndEveryFrameArrivesExactly() throws Exception {
    startServer();
    Connection client = connect();
    Lender lender = new Lender(true);
    serverSide(lender).spareMin = 0;
    // Each side of the read buffer, a spare larger than the frame (its limit is the frame's), one smaller.
    int[] sizes = {LARGEST_SLICED + 1, 1 << 20, LARGEST_SLICED + 1, 3, (1 << 20) - 1, (1 << 20) + 1, LARGEST_SLICED};
    byte[] previousArray = null;
    for (int i = 0; i < sizes.length; i++) {
      send(client, sizes[i], i);
      Object[] m = lender.next();
      assertArrayEquals(pattern(sizes[i], i), (byte[]) m[0], "frame " + i + " of " + sizes[i] + " bytes");
      assertEquals(sizes[i] > LARGEST_SLICED, m[1] != null, "frame " + i + " lent");
      if (m[1] == null) {
        continue;
      }
      ByteBuffer b = (ByteBuffer) m[1];
      assertEquals(sizes[i], b.remaining(), "frame " + i);
      if (i == 2 || i == 4) {
        assertSame(previousArray, b.array(), "frame " + i + " fits the spare: read into it");
      }
      if (i == 5) {
        assertNotSame(previousArray, b.array(), "frame " + i + " is larger than the spare");
      }
      previousArray = b.array();
    }
    assertTrue(lender.closed.isEmpty());
  }

  @Test
  void aKeptBufferIsNeverWrittenAgainAndASecondReleaseChangesNothing() throws Exception {
    startServer();
    Connection client = connect();
    Lender lender = new Lender(false);
    PipesConnection server = serverSide(lender);
    server.spareMin = 0;
    int size = 200_000;
    send(client, size, 1);
    Object[] a = lender.next();
    send(client, size, 2);
    Object[] b = lender.next();
    assertNotSame(((ByteBuffer) a[1]).array(), ((ByteBuffer) b[1]).array(), "A is still out: B gets its own");
    ((Runnable) a[2]).run(); // A given back (from this thread, not the reader's): the spare
    awaitTrue(() -> server.spare() != null, "A is the spare");
    send(client, size, 3);
    Object[] c = lender.next();
    assertSame(((ByteBuffer) a[1]).array(), ((ByteBuffer) c[1]).array(), "C is read into A");
    ((Runnable) a[2]).run(); // A's release again: C (in A's memory) is still out, so nothing may change
    assertNull(server.spare(), "a second release gave the buffer back again");
    send(client, size, 4);
    Object[] d = lender.next();
    assertNotSame(((ByteBuffer) c[1]).array(), ((ByteBuffer) d[1]).array());
    assertArrayEquals(pattern(size, 2), copy(((ByteBuffer) b[1]).duplicate()), "B, never released, changed");
    assertArrayEquals(pattern(size, 3), copy(((ByteBuffer) c[1]).duplicate()), "C, still out, changed");
    assertArrayEquals(pattern(size, 4), copy(((ByteBuffer) d[1]).duplicate()));
  }

  @Test
  void anUnusedSpareIsDroppedAndClosingDropsIt() throws Exception {
    startServer();
    Connection client = connect();
    Lender lender = new Lender(false);
    PipesConnection server = serverSide(lender);
    server.spareMin = 0;
    send(client, 100_000, 1);
    ((Runnable) lender.next()[2]).run();
    assertNotNull(server.spare(), "given back: kept");
    server.spareIdleNanos = TimeUnit.MILLISECONDS.toNanos(100);
    send(client, 3, 9); // wakes the reader, which then waits at most until the spare is 100 ms old
    assertArrayEquals(pattern(3, 9), (byte[]) lender.next()[0]);
    awaitTrue(() -> server.spare() == null, "the idle spare is dropped"); // the reader waits without bytes
    send(client, 100_000, 2);
    Object[] m = lender.next();
    assertArrayEquals(pattern(100_000, 2), (byte[]) m[0]);
    server.spareIdleNanos = TimeUnit.SECONDS.toNanos(WAIT_SECONDS * 10);
    server.close();
    ((Runnable) m[2]).run(); // given back after the close: not kept
    assertNull(server.spare());
  }

  @Test
  void aTruncatedFrameIntoTheSpareIsAProtocolError() throws Exception {
    startServer();
    SocketChannel raw = rawConnect();
    assertEquals(0, rawHandshake(raw, KEY, 2));
    Lender lender = new Lender(true);
    PipesConnection server = serverSide(lender);
    server.spareMin = 0;
    int len = 300_000;
    writeAll(raw, ByteBuffer.allocate(4 + len).putInt(len).put(pattern(len, 5)).flip());
    assertArrayEquals(pattern(len, 5), (byte[]) lender.next()[0]);
    awaitTrue(() -> server.spare() != null, "the frame's buffer is the spare");
    writeAll(raw, ByteBuffer.allocate(4 + len - 1).putInt(len).position(0)); // one byte short
    raw.close();
    Throwable cause = lender.closed.poll(WAIT_SECONDS, TimeUnit.SECONDS);
    assertInstanceOf(ProtocolException.class, cause);
    assertTrue(cause.getMessage().contains("truncated frame"), cause.getMessage());
    assertTrue(lender.got.isEmpty(), "nothing of the truncated frame was delivered");
    assertNull(server.spare(), "closed: nothing kept");
  }

  @Test
  void aBufferBelowTheSpareMinimumIsNotKept() throws Exception {
    startServer();
    Connection client = connect();
    Lender lender = new Lender(true);
    PipesConnection server = serverSide(lender);
    send(client, 1 << 20, 1); // 1 MiB: lent and given back, but a fresh buffer per frame is cheaper
    assertArrayEquals(pattern(1 << 20, 1), (byte[]) lender.next()[0]);
    assertNull(server.spare(), "a 1 MiB buffer was kept");
    send(client, PipesConnection.SPARE_MIN, 2);
    assertArrayEquals(pattern(PipesConnection.SPARE_MIN, 2), (byte[]) lender.next()[0]);
    awaitTrue(() -> server.spare() != null, "a buffer of SPARE_MIN bytes is kept");
  }
}
