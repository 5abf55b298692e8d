package io.procpool.core.internal;

import io.procpool.api.TaskSerializationException;
import io.procpool.api.spi.ProtocolException;
import java.nio.ByteBuffer;
import java.time.DateTimeException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * The worker protocol: the messages between the parent and one worker, carried one per transport
 * message, with one encoder and one decoder per message below the grammar. All integers are
 * big-endian; strings are length-prefixed UTF-8 ({@code -1} = null).
 *
 * <pre>
 * worker → parent
 *   HELLO        u8 type, i32 protocolVersion, i32 workerId, i64 pid
 *   READY        u8 type
 *   INIT_FAILED  u8 type, error
 *   RESULT       u8 type, i64 taskId, i64 execNanos, u8 status, body
 *                  status OK: value bytes to the end; ERROR: error;
 *                  CHUNK: i32 n, n × (i32 len, value bytes), u8 failed, [error]
 *                  BULK: i32 n, bulk values (see {@link BulkChunk}), u8 failed, [error]
 *   OUTPUT       u8 type, u8 stream (1 = out, 2 = err), bytes to the end
 *   RETIRE       u8 type (the worker passed maxMemoryPerChild: replace it)
 *   RECALLED     u8 type, i64 runningTaskId (-1: none), i32 n, n × i64 taskId
 *                  answers one RECALL, in order: the tasks it took out of its queue (they will never
 *                  run) and the task it was running when it did
 *   SECRET       u8 type, i64 requestId, i32 len, fingerprint bytes: asks the parent for the manager
 *                  key with this fingerprint (see {@link Secrets}); answered by one SECRET_REPLY
 *   LOG          u8 type, i64 epochSecond, i32 nano, i32 level, string logger, string message,
 *                string thread, u8 thrown (0 = none, 1 = an error follows), [error]
 *                  a java.util.logging record of the worker (see {@link LogForwardingHandler}):
 *                  level is its Level.intValue(), message is formatted (parameters and resource
 *                  bundle applied), thread names the thread that logged it; sent after the output
 *                  that thread printed before it, and before the result of the task that logged it
 * parent → worker
 *   INIT         u8 type, string codec, string serialFilter, u8 captureOutput, i64 maxMemory,
 *                i32 len, initializer bytes
 *   DEFINE       u8 type, i32 fnId, function bytes to the end
 *   FORGET       u8 type, i32 fnId
 *   TASK         u8 type, i64 taskId, i32 fnId, u8 kind, body
 *                  kind CALL/RUN: empty; APPLY: argument bytes to the end;
 *                  CHUNK: i32 n, n × (i32 len, argument bytes)
 *                  BULK: i32 n, bulk values (see {@link BulkChunk}): n arguments of one type
 *   RECALL       u8 type, i32 n, n × i64 taskId: take these tasks out of the queue unless started;
 *                  handled on the worker's transport thread, even while a task runs
 *   SHUTDOWN     u8 type
 *   SECRET_REPLY u8 type, i64 requestId, i32 len (-1: the parent does not know the key), key bytes;
 *                  handled on the worker's transport thread, even while a task runs
 * error: u8 origin (0 = thrown by the task, 1 = raised by procpool), string className,
 *        string message, i32 depth, depth × (string class, string method, string file, i32 line),
 *        i32 len, serialized throwable (len 0 when it could not be serialized)
 * </pre>
 *
 * <p>Decoders read from a buffer positioned after the type byte and throw {@link ProtocolException}
 * (or a runtime exception the caller turns into one) on malformed input. Value bytes are decoded with
 * {@link Payloads}, whose failures become {@link TaskSerializationException}s of that task alone.
 */
final class WorkerProtocol {
  private WorkerProtocol() {}

  /**
   * 3: LOG messages (a parent of version 2 would close a worker that sends one). 4: HELLO carries the
   * launch id of a worker placed by a cluster engine; PING and PONG; BULK tasks and results.
   */
  static final int VERSION = 4;

  static final byte HELLO = 1;
  static final byte READY = 2;
  static final byte INIT_FAILED = 3;
  static final byte RESULT = 4;
  static final byte OUTPUT = 5;
  static final byte RETIRE = 6;
  static final byte RECALLED = 7;
  static final byte SECRET = 8;
  static final byte LOG = 9;
  /** The answer to a PING, sent at once by the worker's transport thread. */
  static final byte PONG = 10;

  static final byte INIT = 20;
  static final byte DEFINE = 21;
  static final byte FORGET = 22;
  static final byte TASK = 23;
  static final byte SHUTDOWN = 24;
  static final byte RECALL = 25;
  static final byte SECRET_REPLY = 26;
  /** Are you there? Sent to a cluster worker the pool has not heard from for a while. */
  static final byte PING = 27;

  /** The longest fingerprint or key a SECRET or SECRET_REPLY carries. */
  static final int MAX_SECRET_BYTES = 1024;

  static final byte KIND_CALL = 0;
  static final byte KIND_APPLY = 1;
  static final byte KIND_RUN = 2;
  static final byte KIND_CHUNK = 3;
  /** A chunk whose arguments are all Integers, Longs, Doubles or Strings ({@link BulkChunk}). */
  static final byte KIND_BULK = 4;

  static final byte STATUS_OK = 0;
  static final byte STATUS_ERROR = 1;
  static final byte STATUS_CHUNK = 2;
  /** The results of a chunk, all of one {@link BulkChunk} type. */
  static final byte STATUS_BULK = 3;

  static final byte ORIGIN_TASK = 0;
  static final byte ORIGIN_PROCPOOL = 1;

  static final byte STREAM_OUT = 1;
  static final byte STREAM_ERR = 2;

  /** Size of the fixed part of a TASK message. */
  static final int TASK_HEADER = 1 + 8 + 4 + 1;

  // ------------------------------------------------------------------ HELLO

  /**
   * @param launchId the cluster engine's id of the worker's job ({@code WorkerCommand.LAUNCH_ID_ENV}), or
   *     null for a worker the pool started itself or one started by hand
   */
  record Hello(int version, int workerId, long pid, String launchId) {
    Hello(int version, int workerId, long pid) {
      this(version, workerId, pid, null);
    }
  }

  static ByteBuffer hello(int workerId, long pid) {
    return hello(workerId, pid, null);
  }

  static ByteBuffer hello(int workerId, long pid, String launchId) {
    return new Buf(32).put(HELLO).putInt(VERSION).putInt(workerId).putLong(pid).putString(launchId).toByteBuffer();
  }

  static Hello decodeHello(ByteBuffer m) throws ProtocolException {
    if (m.remaining() < 16) {
      throw new ProtocolException("truncated HELLO (" + m.remaining() + " bytes after the type, expected 16)");
    }
    int version = m.getInt();
    int workerId = m.getInt();
    long pid = m.getLong();
    if (version != VERSION && !m.hasRemaining()) {
      return new Hello(version, workerId, pid, null); // an older worker: the version check names the mismatch
    }
    if (m.remaining() < 4) {
      throw new ProtocolException("truncated HELLO (no launch id after the pid)");
    }
    try {
      return new Hello(version, workerId, pid, Buf.getString(m));
    } catch (RuntimeException e) {
      throw new ProtocolException("truncated HELLO (" + e.getMessage() + ")");
    }
  }

  // ------------------------------------------------------------------ READY, RETIRE, SHUTDOWN

  static ByteBuffer ready() {
    return single(READY);
  }

  static ByteBuffer ping() {
    return single(PING);
  }

  static ByteBuffer pong() {
    return single(PONG);
  }

  static ByteBuffer retire() {
    return single(RETIRE);
  }

  static ByteBuffer shutdown() {
    return single(SHUTDOWN);
  }

  private static ByteBuffer single(byte type) {
    return ByteBuffer.wrap(new byte[] {type});
  }

  // ------------------------------------------------------------------ INIT_FAILED

  static ByteBuffer initFailed(Payloads payloads, Throwable error) {
    Buf out = new Buf(256).put(INIT_FAILED);
    payloads.encodeError(error, ORIGIN_TASK, out);
    return out.toByteBuffer();
  }

  static Payloads.DecodedError decodeInitFailed(ByteBuffer m, Payloads payloads) {
    return payloads.decodeError(m);
  }

  // ------------------------------------------------------------------ OUTPUT

  record Output(byte stream, byte[] bytes) {}

  static ByteBuffer output(byte stream, byte[] bytes, int off, int len) {
    Buf m = new Buf(len + 2).put(OUTPUT).put(stream);
    m.write(bytes, off, len);
    return m.toByteBuffer();
  }

  static Output decodeOutput(ByteBuffer m) {
    byte stream = m.get();
    byte[] bytes = new byte[m.remaining()];
    m.get(bytes);
    return new Output(stream, bytes);
  }

  // ------------------------------------------------------------------ LOG

  /**
   * A decoded LOG: a worker's log record. {@code level} is a {@code java.util.logging.Level}'s
   * {@code intValue()}; {@code loggerName} is null for an anonymous logger; {@code thrown} is the
   * record's exception (rebuilt, or a {@link io.procpool.api.RemoteException}) or null.
   */
  record Log(Instant time, int level, String loggerName, String message, String threadName, Throwable thrown) {}

  /** A LOG message; {@code thrown} (or null) is written as an error record with {@code payloads}. */
  static ByteBuffer log(Payloads payloads, Instant time, int level, String loggerName, String message,
      String threadName, Throwable thrown) {
    Buf b = new Buf(64 + (message == null ? 0 : message.length())).put(LOG).putLong(time.getEpochSecond())
        .putInt(time.getNano()).putInt(level).putString(loggerName).putString(message).putString(threadName);
    if (thrown == null) {
      b.put(0);
    } else {
      b.put(1);
      payloads.encodeError(thrown, ORIGIN_TASK, b);
    }
    return b.toByteBuffer();
  }

  static Log decodeLog(ByteBuffer m, Payloads payloads) throws ProtocolException {
    if (m.remaining() < 16) {
      throw new ProtocolException("truncated LOG (" + m.remaining() + " bytes after the type, expected at least 16)");
    }
    long seconds = m.getLong();
    int nano = m.getInt();
    if (nano < 0 || nano > 999_999_999) {
      throw new ProtocolException("bad nanosecond " + nano + " in LOG");
    }
    Instant time;
    try {
      time = Instant.ofEpochSecond(seconds, nano);
    } catch (DateTimeException e) {
      throw new ProtocolException("bad time " + seconds + " s in LOG", e);
    }
    int level = m.getInt();
    String logger = Buf.getString(m);
    String message = Buf.getString(m);
    String thread = Buf.getString(m);
    byte flag = m.get();
    Throwable thrown;
    if (flag == 0) {
      thrown = null;
    } else if (flag == 1) {
      thrown = payloads.decodeError(m).error;
    } else {
      throw new ProtocolException("bad thrown flag " + flag + " in LOG");
    }
    if (m.hasRemaining()) {
      throw new ProtocolException(m.remaining() + " bytes after the end of a LOG");
    }
    return new Log(time, level, logger, message, thread, thrown);
  }

  // ------------------------------------------------------------------ RECALL, RECALLED

  static ByteBuffer recall(long[] taskIds) {
    Buf b = new Buf(5 + 8 * taskIds.length).put(RECALL).putInt(taskIds.length);
    for (long id : taskIds) {
      b.putLong(id);
    }
    return b.toByteBuffer();
  }

  static long[] decodeRecall(ByteBuffer m) throws ProtocolException {
    return readIds(m, "RECALL");
  }

  record Recalled(long runningTaskId, long[] taskIds) {}

  static ByteBuffer recalled(long runningTaskId, long[] taskIds) {
    Buf b = new Buf(13 + 8 * taskIds.length).put(RECALLED).putLong(runningTaskId).putInt(taskIds.length);
    for (long id : taskIds) {
      b.putLong(id);
    }
    return b.toByteBuffer();
  }

  static Recalled decodeRecalled(ByteBuffer m) throws ProtocolException {
    if (m.remaining() < 12) {
      throw new ProtocolException("truncated RECALLED");
    }
    long running = m.getLong();
    return new Recalled(running, readIds(m, "RECALLED"));
  }

  private static long[] readIds(ByteBuffer m, String what) throws ProtocolException {
    int n = m.getInt();
    if (n < 0 || (long) n * 8 > m.remaining()) {
      throw new ProtocolException("bad task count " + n + " in " + what);
    }
    long[] ids = new long[n];
    for (int i = 0; i < n; i++) {
      ids[i] = m.getLong();
    }
    return ids;
  }

  // ------------------------------------------------------------------ SECRET, SECRET_REPLY

  record SecretRequest(long requestId, byte[] fingerprint) {}

  static ByteBuffer secret(long requestId, byte[] fingerprint) {
    return new Buf(13 + fingerprint.length).put(SECRET).putLong(requestId).putBytes(fingerprint, 0, fingerprint.length)
        .toByteBuffer();
  }

  static SecretRequest decodeSecret(ByteBuffer m) throws ProtocolException {
    if (m.remaining() < 12) {
      throw new ProtocolException("truncated SECRET (" + m.remaining() + " bytes after the type, expected at least 12)");
    }
    long id = m.getLong();
    int len = m.getInt();
    if (len < 0 || len > MAX_SECRET_BYTES || len != m.remaining()) {
      throw new ProtocolException("bad fingerprint length " + len + " in SECRET (" + m.remaining() + " bytes follow)");
    }
    byte[] fp = new byte[len];
    m.get(fp);
    return new SecretRequest(id, fp);
  }

  /** A decoded SECRET_REPLY; {@code key} is null when the parent does not know it. */
  record SecretReply(long requestId, byte[] key) {}

  static ByteBuffer secretReply(long requestId, byte[] key) {
    Buf b = new Buf(13 + (key == null ? 0 : key.length)).put(SECRET_REPLY).putLong(requestId);
    if (key == null) {
      b.putInt(-1);
    } else {
      b.putBytes(key, 0, key.length);
    }
    return b.toByteBuffer();
  }

  static SecretReply decodeSecretReply(ByteBuffer m) throws ProtocolException {
    if (m.remaining() < 12) {
      throw new ProtocolException("truncated SECRET_REPLY (" + m.remaining() + " bytes after the type, expected at least 12)");
    }
    long id = m.getLong();
    int len = m.getInt();
    if (len == -1 && !m.hasRemaining()) {
      return new SecretReply(id, null);
    }
    if (len < 0 || len > MAX_SECRET_BYTES || len != m.remaining()) {
      throw new ProtocolException("bad key length " + len + " in SECRET_REPLY (" + m.remaining() + " bytes follow)");
    }
    byte[] key = new byte[len];
    m.get(key);
    return new SecretReply(id, key);
  }

  // ------------------------------------------------------------------ INIT

  record Init(String codec, String serialFilter, boolean captureOutput, long maxMemory, ByteBuffer initializer) {}

  /** An INIT message; {@code initializer} is the encoded initializer or {@code null}. */
  static ByteBuffer init(String codec, String serialFilter, boolean captureOutput, long maxMemory, Buf initializer) {
    Buf b = new Buf(64 + (initializer == null ? 0 : initializer.size())).put(INIT).putString(codec)
        .putString(serialFilter).put(captureOutput ? 1 : 0).putLong(maxMemory);
    if (initializer == null) {
      b.putInt(0);
    } else {
      b.putBytes(initializer.array(), 0, initializer.size());
    }
    return b.toByteBuffer();
  }

  /**
   * An INIT message, checked against the transport's largest message: a pool whose INIT cannot be
   * sent could never start a worker.
   *
   * @throws TaskSerializationException if the message is larger than {@code maxFrameSize}
   */
  static ByteBuffer init(String codec, String serialFilter, boolean captureOutput, long maxMemory, Buf initializer,
      int maxFrameSize) {
    ByteBuffer m = init(codec, serialFilter, captureOutput, maxMemory, initializer);
    if (m.remaining() > maxFrameSize) {
      throw new TaskSerializationException("the workers' INIT message is " + m.remaining() + " bytes (the initializer"
          + " encodes to " + (initializer == null ? 0 : initializer.size()) + " bytes, the serialFilter pattern to "
          + (serialFilter == null ? 0 : serialFilter.length()) + " characters), over maxFrameSize " + maxFrameSize
          + ": let the initializer capture less, or raise maxFrameSize");
    }
    return m;
  }

  static Init decodeInit(ByteBuffer m) throws ProtocolException {
    String codec = Buf.getString(m);
    String filter = Buf.getString(m);
    boolean capture = m.get() != 0;
    long maxMemory = m.getLong();
    int len = m.getInt();
    if (len < 0 || len > m.remaining()) {
      throw new ProtocolException("bad initializer length " + len + " in INIT");
    }
    ByteBuffer initializer = null;
    if (len > 0) {
      initializer = m.slice();
      initializer.limit(len);
    }
    return new Init(codec, filter, capture, maxMemory, initializer);
  }

  // ------------------------------------------------------------------ DEFINE, FORGET

  /** A DEFINE message for the encoded function in {@code fn} (from {@link #beginDefine}). */
  static Buf beginDefine(int fnId) {
    return new Buf(512).put(DEFINE).putInt(fnId);
  }

  /** Reads the function id of a DEFINE; the function's bytes are what remains. */
  static int decodeDefineId(ByteBuffer m) {
    return m.getInt();
  }

  static ByteBuffer forget(int fnId) {
    return new Buf(5).put(FORGET).putInt(fnId).toByteBuffer();
  }

  static int decodeForget(ByteBuffer m) {
    return m.getInt();
  }

  // ------------------------------------------------------------------ TASK

  record TaskHeader(long taskId, int fnId, byte kind) {}

  /** Starts a TASK message; the caller appends the body its kind calls for. */
  static Buf beginTask(int capacity, long taskId, int fnId, byte kind) {
    return new Buf(Math.max(TASK_HEADER, capacity)).put(TASK).putLong(taskId).putInt(fnId).put(kind);
  }

  static TaskHeader decodeTaskHeader(ByteBuffer m) {
    return new TaskHeader(m.getLong(), m.getInt(), m.get());
  }

  /** The task id of a TASK message, without consuming it (the buffer's position is its type byte). */
  static long peekTaskId(ByteBuffer m) {
    return m.getLong(m.position() + 1);
  }

  // ------------------------------------------------------------------ RESULT

  /** Starts a RESULT message; returns the position of its execNanos field, set with {@link Buf#setLong}. */
  static int beginResult(Buf out, long taskId) {
    out.put(RESULT).putLong(taskId);
    int nanosPos = out.size();
    out.putLong(0);
    return nanosPos;
  }

  /**
   * A decoded RESULT. Exactly one of: {@code values != null} (a chunk; {@code failure} is what
   * stopped it, or null), {@code failure != null}, or {@code value} (possibly null).
   */
  record Result(long taskId, long execNanos, Object value, List<Object> values, Throwable failure,
      boolean thrownByTask) {}

  /**
   * Decodes a RESULT, values included. A value that cannot be decoded, for any reason short of the
   * JVM failing, fails that task alone: it becomes the result's {@code failure}.
   */
  static Result decodeResult(ByteBuffer m, Payloads payloads) throws ProtocolException {
    long taskId = m.getLong();
    long execNanos = m.getLong();
    byte status = m.get();
    switch (status) {
      case STATUS_OK:
        try {
          return new Result(taskId, execNanos, payloads.decode(m, "the result of task ", taskId), null, null, false);
        } catch (TaskSerializationException e) {
          return new Result(taskId, execNanos, null, null, e, false);
        }
      case STATUS_ERROR: {
        Payloads.DecodedError e = payloads.decodeError(m);
        return new Result(taskId, execNanos, null, null, e.error, e.origin == ORIGIN_TASK);
      }
      case STATUS_CHUNK: {
        int n = m.getInt();
        if (n < 0 || n > m.remaining()) {
          throw new ProtocolException("bad chunk size " + n);
        }
        List<Object> values = new ArrayList<>(n);
        try {
          int limit = m.limit();
          for (int i = 0; i < n; i++) {
            int len = m.getInt();
            int end = m.position() + len;
            if (len < 0 || end > limit) {
              throw new ProtocolException("bad value length " + len + " in task " + taskId);
            }
            m.limit(end);
            try {
              values.add(payloads.decode(m, "a result of task ", taskId));
            } finally {
              m.limit(limit);
              m.position(end);
            }
          }
        } catch (TaskSerializationException e) {
          return new Result(taskId, execNanos, null, values, e, false);
        }
        if (m.get() != 0) {
          Payloads.DecodedError e = payloads.decodeError(m);
          return new Result(taskId, execNanos, null, values, e.error, e.origin == ORIGIN_TASK);
        }
        return new Result(taskId, execNanos, null, values, null, false);
      }
      case STATUS_BULK: {
        int n = m.getInt();
        if (n < 0 || n > m.remaining()) {
          throw new ProtocolException("bad chunk size " + n);
        }
        Object[] values = new Object[n];
        if (n > 0) {
          byte type = m.get();
          BulkChunk.check(m, type, n, "result of task " + taskId);
          BulkChunk.getAll(m, type, n, values);
        }
        List<Object> list = java.util.Arrays.asList(values);
        if (m.get() != 0) {
          Payloads.DecodedError e = payloads.decodeError(m);
          return new Result(taskId, execNanos, null, list, e.error, e.origin == ORIGIN_TASK);
        }
        return new Result(taskId, execNanos, null, list, null, false);
      }
      default:
        throw new ProtocolException("bad result status " + status);
    }
  }
}
