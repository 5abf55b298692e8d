package io.procpool.core.internal;

import io.procpool.api.TaskSerializationException;
import io.procpool.core.JavaSerializationCodec;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Iterator;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Encodes tasks on the caller's thread, so that an unserializable function, argument or item fails
 * the submit call itself: single tasks, chunks of map items, and (through the {@link FunctionTable})
 * the functions they run.
 */
final class TaskEncoder {
  private final Payloads payloads;
  private final FunctionTable functions;
  private final int maxFrameSize;
  /** Chunks of Integers, Longs, Doubles or Strings take the {@link BulkChunk} encoding (the "java" codec only). */
  private final boolean bulk;
  private final AtomicLong taskIds = new AtomicLong();

  /** An encoded TASK message with its id and function. */
  record Encoded(long id, FunctionTable.Entry function, ByteBuffer message) {}

  TaskEncoder(Payloads payloads, int maxFrameSize) {
    this.payloads = payloads;
    this.functions = new FunctionTable(payloads, maxFrameSize);
    this.maxFrameSize = maxFrameSize;
    this.bulk = payloads.codec() instanceof JavaSerializationCodec;
  }

  /** The function's entry, encoding it if it is new or changed. */
  FunctionTable.Entry function(Object fn) {
    return functions.entry(fn);
  }

  /** A single call of {@code fn}; {@code arg} is encoded when {@code hasArg}. */
  Encoded single(Object fn, byte kind, Object arg, boolean hasArg) {
    FunctionTable.Entry entry = functions.entry(fn);
    long id = taskIds.incrementAndGet();
    Buf b = WorkerProtocol.beginTask(hasArg ? 64 : WorkerProtocol.TASK_HEADER, id, entry.id, kind);
    if (hasArg) {
      payloads.encode(arg, b, "the task argument");
      checkFrame(b, "the task argument");
    }
    return new Encoded(id, entry, b.toByteBuffer());
  }

  /**
   * Up to {@code maxCount} items of {@code items} from index {@code from} as one CHUNK task, fewer
   * if more would exceed maxFrameSize (a chunk always holds at least one item). For map's default
   * chunking: a chunk size computed from the item count must not turn items that fit into a chunk
   * that does not. Returns the task and, through {@link ChunkedItems#count}, how many items it holds.
   */
  ChunkedItems chunkUpTo(FunctionTable.Entry entry, java.util.List<?> items, int from, int maxCount) {
    byte type = bulk ? BulkChunk.uniformType(items, from, maxCount) : BulkChunk.NONE;
    if (type != BulkChunk.NONE) {
      return bulkChunk(entry, type, items, from, maxCount, true, from);
    }
    long id = taskIds.incrementAndGet();
    Buf b = WorkerProtocol.beginTask(WorkerProtocol.TASK_HEADER + 4 + maxCount * 16, id, entry.id,
        WorkerProtocol.KIND_CHUNK);
    int countPos = b.size();
    b.putInt(0);
    int count = 0;
    while (count < maxCount) {
      int lenPos = b.size();
      b.putInt(0);
      payloads.encode(items.get(from + count), b, "item #", from + count);
      if (count > 0 && b.size() > maxFrameSize) {
        b.truncate(lenPos); // this item starts the next chunk
        break;
      }
      b.setInt(lenPos, b.size() - lenPos - 4);
      count++;
    }
    b.setInt(countPos, count);
    checkFrame(b, count == 1 ? "item #" + from : "a chunk of " + count + " items starting at #" + from);
    return new ChunkedItems(new Encoded(id, entry, b.toByteBuffer()), count);
  }

  /** A CHUNK task and the number of items in it. */
  record ChunkedItems(Encoded encoded, int count) {}

  /** {@code count} items from {@code it} as one CHUNK task; {@code first} numbers them in messages. */
  Encoded chunk(FunctionTable.Entry entry, Iterator<?> it, int count, long first) {
    if (bulk) {
      Object[] items = new Object[count];
      for (int i = 0; i < count; i++) {
        items[i] = it.next();
      }
      java.util.List<Object> list = Arrays.asList(items);
      byte type = BulkChunk.uniformType(list, 0, count);
      if (type != BulkChunk.NONE) {
        return bulkChunk(entry, type, list, 0, count, false, first).encoded();
      }
      it = list.iterator();
    }
    long id = taskIds.incrementAndGet();
    Buf b = WorkerProtocol.beginTask(WorkerProtocol.TASK_HEADER + 4 + count * 16, id, entry.id,
        WorkerProtocol.KIND_CHUNK).putInt(count);
    for (int i = 0; i < count; i++) {
      Object item = it.next();
      int lenPos = b.size();
      b.putInt(0);
      payloads.encode(item, b, "item #", first + i);
      b.setInt(lenPos, b.size() - lenPos - 4);
    }
    checkFrame(b, "a chunk of " + count + " items starting at #" + first);
    return new Encoded(id, entry, b.toByteBuffer());
  }

  /**
   * Up to {@code maxCount} items of one {@link BulkChunk} type as one BULK task; with {@code split},
   * fewer if more would exceed maxFrameSize, counting every item at its per-item CHUNK size so that
   * chunks end where they would without the bulk encoding. {@code first} numbers the items in messages.
   */
  private ChunkedItems bulkChunk(FunctionTable.Entry entry, byte type, java.util.List<?> items, int from,
      int maxCount, boolean split, long first) {
    long id = taskIds.incrementAndGet();
    int perItem = type == BulkChunk.INT ? 4 : type == BulkChunk.STRING ? 16 : 8;
    Buf b = WorkerProtocol.beginTask(WorkerProtocol.TASK_HEADER + 5 + (int) Math.min(maxFrameSize,
        (long) maxCount * perItem), id, entry.id, WorkerProtocol.KIND_BULK);
    b.put(type);
    int countPos = b.size();
    b.putInt(0);
    long perItemSize = WorkerProtocol.TASK_HEADER + 4; // the size of this chunk in the CHUNK encoding
    int count = 0;
    while (count < maxCount) {
      int pos = b.size();
      int itemSize = BulkChunk.put(b, type, items.get(from + count)) + BulkChunk.PER_ITEM_EXTRA;
      if (split && count > 0 && perItemSize + itemSize > maxFrameSize) {
        b.truncate(pos); // this item starts the next chunk
        break;
      }
      perItemSize += itemSize;
      count++;
    }
    b.setInt(countPos, count);
    if (perItemSize > maxFrameSize) {
      throw new TaskSerializationException((split && count == 1 ? "item #" + first : "a chunk of " + count
          + " items starting at #" + first) + " is " + perItemSize + " bytes encoded, over maxFrameSize " + maxFrameSize);
    }
    return new ChunkedItems(new Encoded(id, entry, b.toByteBuffer()), count);
  }

  private void checkFrame(Buf b, String what) {
    if (b.size() > maxFrameSize) {
      throw new TaskSerializationException(what + " is " + b.size() + " bytes encoded, over maxFrameSize "
          + maxFrameSize);
    }
  }
}
