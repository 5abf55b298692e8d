package io.procpool.core.internal;

import com.google.common.cache.Cache;
import com.google.common.cache.CacheBuilder;
import java.nio.ByteBuffer;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Encodes each task function once and gives it an id. Functions are cached by identity (weakly), so
 * a method reference or a non-capturing lambda used for many tasks is encoded once, and each worker
 * receives it once (see {@link Worker#ensureDefined}).
 */
final class FunctionTable {
  private final Wire wire;
  private final int maxFrameSize;
  private final AtomicInteger ids = new AtomicInteger();
  private final Cache<Object, Entry> cache = CacheBuilder.newBuilder().weakKeys().maximumSize(4096).build();

  /** An encoded function: its id and its DEFINE message. */
  static final class Entry {
    final int id;
    private final ByteBuffer define;

    Entry(int id, ByteBuffer define) {
      this.id = id;
      this.define = define;
    }

    /** A fresh view of the DEFINE message, for one write. */
    ByteBuffer defineMessage() {
      return define.duplicate();
    }
  }

  FunctionTable(Wire wire, int maxFrameSize) {
    this.wire = wire;
    this.maxFrameSize = maxFrameSize;
  }

  /**
   * The entry for {@code fn}, encoding it on first use.
   *
   * @throws io.procpool.api.TaskSerializationException if it cannot be encoded
   */
  Entry entry(Object fn) {
    // Fast path: most submissions reuse the function of the previous one (applyAsync in a loop,
    // map). A Guava lookup records the access and allocates; this is one read and one compare.
    LastHit hit = last;
    if (hit != null && hit.fn == fn) {
      return hit.entry;
    }
    Entry e = cache.getIfPresent(fn);
    if (e == null) {
      e = load(fn);
    }
    last = new LastHit(fn, e);
    return e;
  }

  /** The most recent lookup. Holds its function strongly: one object, replaced on the next miss. */
  private static final class LastHit {
    final Object fn;
    final Entry entry;

    LastHit(Object fn, Entry entry) {
      this.fn = fn;
      this.entry = entry;
    }
  }

  private volatile LastHit last;

  private Entry load(Object fn) {
    try {
      return cache.get(fn, () -> encode(fn));
    } catch (ExecutionException ex) {
      throw (RuntimeException) ex.getCause();
    } catch (com.google.common.util.concurrent.UncheckedExecutionException ex) {
      throw (RuntimeException) ex.getCause();
    }
  }

  private Entry encode(Object fn) {
    int id = ids.incrementAndGet();
    Buf b = new Buf(512).put(Protocol.DEFINE).putInt(id);
    wire.encode(fn, b, "the task function");
    if (b.size() > maxFrameSize) {
      throw new io.procpool.api.TaskSerializationException("the task function is " + b.size()
          + " bytes encoded, over maxFrameSize " + maxFrameSize + " (does it capture a large object?)");
    }
    return new Entry(id, b.toByteBuffer().asReadOnlyBuffer());
  }
}
