package io.procpool.core.internal;

import io.procpool.api.TaskSerializationException;
import java.nio.ByteBuffer;
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
  private final AtomicLong taskIds = new AtomicLong();

  /** An encoded TASK message with its id and function. */
  record Encoded(long id, FunctionTable.Entry function, ByteBuffer message) {}

  TaskEncoder(Payloads payloads, int maxFrameSize) {
    this.payloads = payloads;
    this.functions = new FunctionTable(payloads, maxFrameSize);
    this.maxFrameSize = maxFrameSize;
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

  /** {@code count} items from {@code it} as one CHUNK task; {@code first} numbers them in messages. */
  Encoded chunk(FunctionTable.Entry entry, Iterator<?> it, int count, long first) {
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

  private void checkFrame(Buf b, String what) {
    if (b.size() > maxFrameSize) {
      throw new TaskSerializationException(what + " is " + b.size() + " bytes encoded, over maxFrameSize "
          + maxFrameSize);
    }
  }
}
