package io.procpool.ipc.pipes;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.procpool.api.spi.Connection;
import io.procpool.api.spi.ProtocolException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.Arrays;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Frames larger than the read buffer are lent ({@link Connection.Listener#onLentMessage}), which by
 * default hands them over with {@link Connection.Listener#onOwnedMessage}:
 * the listener may keep the buffer, which the transport never touches again; frames that fit the read
 * buffer still come as {@code onMessage} slices; a listener that does not override it gets every frame
 * through {@code onMessage}.
 */
@Timeout(60)
class PipesOwnedMessageTest extends PipesFixture {
  /** The largest payload that fits the read buffer with its 4-byte header. */
  static final int LARGEST_SLICED = PipesConnection.READ_BUFFER_SIZE - 4;

  /** Keeps owned buffers as they are (no copy); copies sliced ones. */
  static final class Keeper implements Connection.Listener {
    final BlockingQueue<Object[]> got = new LinkedBlockingQueue<>(); // {Boolean owned, ByteBuffer or byte[]}
    final BlockingQueue<Throwable> closed = new LinkedBlockingQueue<>();

    @Override
    public void onMessage(ByteBuffer message) {
      byte[] copy = new byte[message.remaining()];
      message.get(copy);
      got.add(new Object[] {false, copy});
    }

    @Override
    public void onOwnedMessage(ByteBuffer message) {
      got.add(new Object[] {true, message});
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

  static byte[] pattern(int size, int seed) {
    byte[] b = new byte[size];
    for (int i = 0; i < size; i++) {
      b[i] = (byte) (seed * 31 + i * 7);
    }
    return b;
  }

  @Test
  void largeFramesAreHandedOverAndStayIntactWhileLaterFramesArrive() throws Exception {
    startServer();
    Connection client = connect();
    Connection serverSide = nextAccepted();
    Keeper keeper = new Keeper();
    serverSide.start(keeper);
    int[] sizes = {0, 1, LARGEST_SLICED, LARGEST_SLICED + 1, 3, 1 << 20, LARGEST_SLICED + 1};
    for (int i = 0; i < sizes.length; i++) {
      client.write(ByteBuffer.wrap(pattern(sizes[i], i)));
    }
    client.flush();
    Object[][] got = new Object[sizes.length][];
    for (int i = 0; i < sizes.length; i++) {
      got[i] = keeper.next();
    }
    // Only now, after every later frame went through the reader: what was handed over is unchanged.
    for (int i = 0; i < sizes.length; i++) {
      boolean owned = (Boolean) got[i][0];
      assertEquals(sizes[i] > LARGEST_SLICED, owned, "frame " + i + " of " + sizes[i] + " bytes");
      byte[] bytes;
      if (owned) {
        ByteBuffer b = (ByteBuffer) got[i][1];
        assertEquals(sizes[i], b.remaining());
        bytes = new byte[b.remaining()];
        b.get(bytes);
      } else {
        bytes = (byte[]) got[i][1];
      }
      assertTrue(Arrays.equals(pattern(sizes[i], i), bytes), "frame " + i + " of " + sizes[i] + " bytes changed");
    }
  }

  @Test
  void aListenerWithoutTheOverrideGetsLargeFramesAsMessages() throws Exception {
    startServer();
    Pair p = new Pair();
    p.client.write(ByteBuffer.wrap(pattern(LARGEST_SLICED + 1, 1)));
    p.client.write(ByteBuffer.wrap(pattern(5, 2)));
    p.client.flush();
    assertArrayEquals(pattern(LARGEST_SLICED + 1, 1), p.serverRec.next());
    assertArrayEquals(pattern(5, 2), p.serverRec.next());
  }

  @Test
  void aTruncatedOwnedFrameIsAProtocolErrorAndIsNotDelivered() throws Exception {
    startServer();
    SocketChannel raw = rawConnect();
    assertEquals(0, rawHandshake(raw, KEY, 2));
    Connection serverSide = nextAccepted();
    Keeper keeper = new Keeper();
    serverSide.start(keeper);
    int len = LARGEST_SLICED + 1;
    writeAll(raw, ByteBuffer.allocate(4 + len - 1).putInt(len).position(0)); // one byte short
    raw.close();
    Throwable cause = keeper.closed.poll(WAIT_SECONDS, TimeUnit.SECONDS);
    assertInstanceOf(ProtocolException.class, cause);
    assertTrue(cause.getMessage().contains("truncated frame"), cause.getMessage());
    assertTrue(keeper.got.isEmpty(), "nothing of the truncated frame was delivered");
  }
}
