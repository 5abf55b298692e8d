package io.procpool.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.procpool.api.MapOptions;
import io.procpool.api.ProcessPool;
import io.procpool.api.Progress;
import io.procpool.api.TaskFailedException;
import io.procpool.api.spi.Codec;
import java.io.IOException;
import java.io.InputStream;
import java.io.ObjectInputFilter;
import java.io.OutputStream;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;
import java.util.stream.LongStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * What the map bulk path (chunks of Integers, Longs, Doubles or Strings as one typed array, only with
 * the built-in "java" codec) must keep: a user's codec sees every item and every result, progress
 * counts every item, in-JVM workers (threads transport) so that one counter sees both sides.
 */
@Timeout(60)
class BulkMapSemanticsTest {
  /** The "java" encoding under another name, counting the Long values it encodes and decodes. */
  public static final class CountingCodec implements Codec {
    static final AtomicLong ENCODED_LONGS = new AtomicLong();
    static final AtomicLong DECODED_LONGS = new AtomicLong();
    private final JavaSerializationCodec java = new JavaSerializationCodec();

    @Override
    public String name() {
      return "bulk-test-counting";
    }

    @Override
    public void encode(Object value, OutputStream out) throws IOException {
      if (value instanceof Long) {
        ENCODED_LONGS.incrementAndGet();
      }
      java.encode(value, out);
    }

    @Override
    public Object decode(InputStream in, ClassLoader loader, ObjectInputFilter filter)
        throws IOException, ClassNotFoundException {
      Object value = java.decode(in, loader, filter);
      if (value instanceof Long) {
        DECODED_LONGS.incrementAndGet();
      }
      return value;
    }
  }

  private static List<Long> longs(int n) {
    return LongStream.range(0, n).boxed().collect(Collectors.toList());
  }

  @Test
  void aCustomCodecSeesEveryItemAndEveryResult() {
    List<Long> items = longs(10_000);
    try (ProcessPool pool = ProcessPool.builder().transport("threads").processes(2).codec("bulk-test-counting").build()) {
      CountingCodec.ENCODED_LONGS.set(0);
      CountingCodec.DECODED_LONGS.set(0);
      assertEquals(items, pool.map((Long x) -> x, items));
      assertEquals(items, pool.map((Long x) -> x, items, 100));
      List<Long> imapped = new ArrayList<>();
      pool.imap((Long x) -> x, items, 1000).forEachRemaining(imapped::add);
      assertEquals(items, imapped);
      // each item: encoded by the parent, decoded by a worker; each result: encoded by the worker, decoded by the parent
      assertEquals(3 * 2 * items.size(), CountingCodec.ENCODED_LONGS.get(), "encodes");
      assertEquals(3 * 2 * items.size(), CountingCodec.DECODED_LONGS.get(), "decodes");
    }
  }

  @Test
  void stringsWithUnpairedSurrogatesRoundTripExactly() {
    // UTF-8 (the compact string encodings) would turn an unpaired surrogate into '?'.
    List<String> strings = List.of("plain", "pair \uD83D\uDE00 ok", "lone high \uD800", "\uDC00 lone low", "",
        "end high \uDBFF", "ab\uDC00\uD800cd");
    try (ProcessPool pool = ProcessPool.builder().transport("threads").processes(2).build()) {
      assertEquals(strings, pool.map((String s) -> s, strings), "a chunk with some ill-formed strings");
      assertEquals(strings, pool.map((String s) -> s, strings, 1), "one string per chunk");
      List<String> ill = List.of("\uD800", "x\uDFFF", "\uDBFF\uDBFF");
      assertEquals(ill, pool.map((String s) -> s, ill), "a chunk of ill-formed strings only");
      assertEquals("\uD800!", pool.apply((String s) -> s + "!", "\uD800"), "apply and its result");
      assertEquals(List.of("\uD800", "ok"), pool.map((Integer i) -> i == 0 ? "\uD800" : "ok", List.of(0, 1)),
          "results of a bulk chunk of Integers");
    }
  }

  @Test
  void progressCountsEveryItemOfBulkChunks() {
    List<Progress> calls = Collections.synchronizedList(new ArrayList<>());
    try (ProcessPool pool = ProcessPool.builder().transport("threads").processes(2).build()) {
      List<Long> items = longs(50_000);
      assertEquals(items, pool.map((Long x) -> x, items, MapOptions.defaults().onProgress(calls::add)));
      Progress last = calls.get(calls.size() - 1);
      assertEquals(50_000, last.total());
      assertEquals(50_000, last.completed(), last.toString());
      assertEquals(0, last.failed(), last.toString());

      calls.clear();
      assertThrows(TaskFailedException.class, () -> pool.map((Long x) -> {
        if (x == 25_000L) {
          throw new IllegalStateException("item 25000");
        }
        return x;
      }, items, MapOptions.defaults().chunksize(50_000).onProgress(calls::add)));
      Progress failed = calls.get(calls.size() - 1);
      assertEquals(50_000, failed.done(), failed.toString());
      assertTrue(failed.failed() >= 1, failed.toString());
    }
  }
}
