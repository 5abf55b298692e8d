package io.procpool.ipc.pipes;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.procpool.api.ProcessPool;
import io.procpool.api.spi.Codec;
import io.procpool.core.JavaSerializationCodec;
import java.io.IOException;
import java.io.InputStream;
import java.io.ObjectInputFilter;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Large frames decoded by a custom codec keep a buffer of their own: a codec whose values are views
 * of their input (which the {@link Codec} contract forbids, but which worked before large frames were
 * read into reused buffers) must not see kept values overwritten by later large frames, in the worker
 * or in the parent.
 */
@Timeout(120)
class PipesCustomCodecTest {
  static final int SIZE = PipesConnection.SPARE_MIN; // a lent frame on both sides, large enough to be kept as the spare
  static final int VALUES = 4;
  /** Arguments a worker kept, across tasks. */
  static final List<ByteBuffer> KEPT = new ArrayList<>();

  /** ByteBuffer values as their bytes, decoded as a view of the input; anything else as "java". */
  public static final class ViewsCodec implements Codec {
    private final JavaSerializationCodec java = new JavaSerializationCodec();

    @Override
    public String name() {
      return "pipes-test-views";
    }

    @Override
    public void encode(Object value, OutputStream out) throws IOException {
      if (value instanceof ByteBuffer) {
        ByteBuffer b = ((ByteBuffer) value).duplicate();
        out.write(1);
        byte[] bytes = new byte[b.remaining()];
        b.get(bytes);
        out.write(bytes);
      } else {
        out.write(0);
        java.encode(value, out);
      }
    }

    @Override
    public Object decode(InputStream in, ClassLoader loader, ObjectInputFilter filter)
        throws IOException, ClassNotFoundException {
      if (in.read() == 1) {
        return ByteBuffer.wrap(in.readAllBytes());
      }
      return java.decode(in, loader, filter);
    }

    @Override
    public Object decode(ByteBuffer in, ClassLoader loader, ObjectInputFilter filter)
        throws IOException, ClassNotFoundException {
      if (in.get() == 1) {
        ByteBuffer view = in.slice(); // shares the input's memory
        in.position(in.limit());
        return view;
      }
      return java.decode(in, loader, filter);
    }
  }

  static ByteBuffer pattern(int seed) {
    ByteBuffer b = ByteBuffer.allocate(SIZE);
    for (int i = 0; i < SIZE; i++) {
      b.put(i, (byte) (seed * 31 + i * 7));
    }
    return b;
  }

  static boolean intact(ByteBuffer b, int seed) {
    return b.remaining() == SIZE && b.equals(pattern(seed));
  }

  /** In the worker: keeps its argument, returns it. */
  static ByteBuffer keep(ByteBuffer b) {
    synchronized (KEPT) {
      KEPT.add(b);
    }
    return b;
  }

  /** In the worker: how many kept arguments still hold what they held (seeds 0, 1, ...). */
  static int keptIntact(int unused) {
    synchronized (KEPT) {
      int n = 0;
      for (int i = 0; i < KEPT.size(); i++) {
        n += intact(KEPT.get(i), i) ? 1 : 0;
      }
      return n;
    }
  }

  @Test
  void valuesThatAreViewsOfLargeFramesStayIntact() {
    try (ProcessPool pool = ProcessPool.builder().transport("pipes").processes(1).codec("pipes-test-views").build()) {
      List<ByteBuffer> results = new ArrayList<>();
      for (int seed = 0; seed < VALUES; seed++) {
        results.add(pool.apply(PipesCustomCodecTest::keep, pattern(seed)));
      }
      for (int seed = 0; seed < VALUES; seed++) {
        assertTrue(intact(results.get(seed), seed), "the parent's result " + seed + " changed");
      }
      assertEquals(VALUES, (int) pool.apply(PipesCustomCodecTest::keptIntact, 0), "the worker's kept arguments");
    }
  }
}
