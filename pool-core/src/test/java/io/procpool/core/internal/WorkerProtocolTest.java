package io.procpool.core.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.procpool.api.RemoteException;
import io.procpool.api.SerializableFunction;
import io.procpool.api.SerializableRunnable;
import io.procpool.api.TaskSerializationException;
import io.procpool.api.spi.ProtocolException;
import io.procpool.core.JavaSerializationCodec;
import java.io.Serializable;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Round trips of every {@link WorkerProtocol} message through its encoder and decoder, and the
 * decoders' behaviour on truncated and corrupt input: a {@link ProtocolException} or a runtime
 * exception (as the class javadoc allows), never a hang, an OutOfMemoryError or another Error.
 */
@Timeout(5)
class WorkerProtocolTest {
  private final Payloads payloads = new Payloads(new JavaSerializationCodec(), SerialFilters.create(null, 1 << 20),
      WorkerProtocolTest.class.getClassLoader());
  private final TaskEncoder encoder = new TaskEncoder(payloads, 1 << 20);

  private static final SerializableFunction<Object, Object> IDENTITY = x -> x;

  /** Positions {@code m} after its type byte, checking the type. */
  private static ByteBuffer body(ByteBuffer m, byte expectedType) {
    ByteBuffer b = m.duplicate();
    assertTrue(b.hasRemaining(), "empty message");
    assertEquals(expectedType, b.get(), "message type byte");
    return b;
  }

  /** A defensive copy of the message's bytes. */
  private static byte[] bytes(ByteBuffer m) {
    ByteBuffer d = m.duplicate();
    byte[] b = new byte[d.remaining()];
    d.get(b);
    return b;
  }

  // ------------------------------------------------------------------ HELLO

  @Test
  void helloRoundTrip() throws Exception {
    ByteBuffer m = WorkerProtocol.hello(7, 123_456_789_012L);
    assertEquals(21, m.remaining(), "HELLO is u8 + i32 + i32 + i64 + string (length -1: no launch id)");
    ByteBuffer b = body(m, WorkerProtocol.HELLO);
    WorkerProtocol.Hello h = WorkerProtocol.decodeHello(b);
    assertEquals(new WorkerProtocol.Hello(WorkerProtocol.VERSION, 7, 123_456_789_012L), h);
    assertFalse(b.hasRemaining(), "HELLO decoder must consume the whole message");
  }

  @Test
  void helloOfAClusterWorkerCarriesItsLaunchId() throws Exception {
    ByteBuffer b = body(WorkerProtocol.hello(-1, 42, "4242_3"), WorkerProtocol.HELLO);
    assertEquals(new WorkerProtocol.Hello(WorkerProtocol.VERSION, -1, 42, "4242_3"), WorkerProtocol.decodeHello(b));
    assertFalse(b.hasRemaining());
  }

  @Test
  void helloOfAnOlderWorkerDecodesSoThatTheVersionCheckNamesTheMismatch() throws Exception {
    ByteBuffer old = ByteBuffer.allocate(16).putInt(3).putInt(1).putLong(99).flip();
    assertEquals(new WorkerProtocol.Hello(3, 1, 99), WorkerProtocol.decodeHello(old));
  }

  @Test
  void externalHelloCarriesWorkerIdMinusOne() throws Exception {
    WorkerProtocol.Hello h = WorkerProtocol.decodeHello(body(WorkerProtocol.hello(-1, 42), WorkerProtocol.HELLO));
    assertEquals(-1, h.workerId(), "external workers say workerId -1");
    assertEquals(42, h.pid());
  }

  @Test
  void truncatedHelloIsAProtocolException() {
    ByteBuffer b = body(WorkerProtocol.hello(1, 2), WorkerProtocol.HELLO);
    b.limit(b.limit() - 1);
    ProtocolException e = assertThrows(ProtocolException.class, () -> WorkerProtocol.decodeHello(b));
    assertTrue(e.getMessage().contains("truncated HELLO"), e.getMessage());
  }

  // ------------------------------------------------------------------ single-byte messages

  @Test
  void readyRetireShutdownAreOneByte() {
    assertArrayEquals(new byte[] {WorkerProtocol.READY}, bytes(WorkerProtocol.ready()), "READY");
    assertArrayEquals(new byte[] {WorkerProtocol.RETIRE}, bytes(WorkerProtocol.retire()), "RETIRE");
    assertArrayEquals(new byte[] {WorkerProtocol.SHUTDOWN}, bytes(WorkerProtocol.shutdown()), "SHUTDOWN");
    // Each call gives a fresh buffer: consuming one must not affect the next.
    ByteBuffer first = WorkerProtocol.shutdown();
    first.get();
    assertEquals(1, WorkerProtocol.shutdown().remaining(), "a consumed SHUTDOWN buffer leaked into the next one");
  }

  @Test
  void messageTypesAreDistinct() {
    byte[] types = {WorkerProtocol.HELLO, WorkerProtocol.READY, WorkerProtocol.INIT_FAILED, WorkerProtocol.RESULT,
        WorkerProtocol.OUTPUT, WorkerProtocol.RETIRE, WorkerProtocol.RECALLED, WorkerProtocol.INIT,
        WorkerProtocol.DEFINE, WorkerProtocol.FORGET, WorkerProtocol.TASK, WorkerProtocol.SHUTDOWN,
        WorkerProtocol.RECALL, WorkerProtocol.SECRET, WorkerProtocol.SECRET_REPLY, WorkerProtocol.LOG};
    assertEquals(types.length, new String(types, StandardCharsets.ISO_8859_1).chars().distinct().count(),
        "two message types share a byte: " + Arrays.toString(types));
  }

  // ------------------------------------------------------------------ INIT_FAILED

  @Test
  void initFailedRoundTrip() {
    ByteBuffer m = WorkerProtocol.initFailed(payloads, new IllegalStateException("no database here"));
    Payloads.DecodedError e = WorkerProtocol.decodeInitFailed(body(m, WorkerProtocol.INIT_FAILED), payloads);
    assertEquals(WorkerProtocol.ORIGIN_TASK, e.origin, "an initializer's failure is the user's code's");
    IllegalStateException error = assertInstanceOf(IllegalStateException.class, e.error);
    assertEquals("no database here", error.getMessage());
  }

  @Test
  void initFailedWithUnserializableErrorBecomesRemoteException() {
    class Local extends RuntimeException {
      private static final long serialVersionUID = 1L;
      @SuppressWarnings({"unused", "serial"})
      private final Object notSerializable = new Object();

      Local() {
        super("cannot travel");
      }
    }
    ByteBuffer m = WorkerProtocol.initFailed(payloads, new Local());
    Payloads.DecodedError e = WorkerProtocol.decodeInitFailed(body(m, WorkerProtocol.INIT_FAILED), payloads);
    RemoteException remote = assertInstanceOf(RemoteException.class, e.error);
    assertEquals(Local.class.getName(), remote.remoteClassName());
    assertEquals("cannot travel", remote.remoteMessage());
  }

  // ------------------------------------------------------------------ OUTPUT

  @Test
  void outputRoundTripUsesOnlyTheGivenRange() {
    byte[] text = "xxhello worldyy".getBytes(StandardCharsets.UTF_8);
    ByteBuffer m = WorkerProtocol.output(WorkerProtocol.STREAM_ERR, text, 2, 11);
    WorkerProtocol.Output o = WorkerProtocol.decodeOutput(body(m, WorkerProtocol.OUTPUT));
    assertEquals(WorkerProtocol.STREAM_ERR, o.stream());
    assertEquals("hello world", new String(o.bytes(), StandardCharsets.UTF_8));

    WorkerProtocol.Output empty =
        WorkerProtocol.decodeOutput(body(WorkerProtocol.output(WorkerProtocol.STREAM_OUT, text, 0, 0),
            WorkerProtocol.OUTPUT));
    assertEquals(WorkerProtocol.STREAM_OUT, empty.stream());
    assertEquals(0, empty.bytes().length, "an empty OUTPUT has no bytes");
  }

  // ------------------------------------------------------------------ LOG

  @Test
  void logRoundTripWithAndWithoutException() throws Exception {
    Instant t = Instant.ofEpochSecond(1_800_000_000L, 999_999_999);
    ByteBuffer b = body(WorkerProtocol.log(payloads, t, 900, "com.example.Job", "ünïcode ✓ {0}", "main",
        new IllegalStateException("bad row", new ArithmeticException("cause"))), WorkerProtocol.LOG);
    WorkerProtocol.Log log = WorkerProtocol.decodeLog(b, payloads);
    assertFalse(b.hasRemaining(), "LOG decoder must consume the whole message");
    assertEquals(t, log.time());
    assertEquals(900, log.level());
    assertEquals("com.example.Job", log.loggerName());
    assertEquals("ünïcode ✓ {0}", log.message());
    assertEquals("main", log.threadName());
    IllegalStateException e = assertInstanceOf(IllegalStateException.class, log.thrown());
    assertEquals("bad row", e.getMessage());
    assertInstanceOf(ArithmeticException.class, e.getCause(), "the cause chain travels");

    WorkerProtocol.Log plain = WorkerProtocol.decodeLog(body(WorkerProtocol.log(payloads, Instant.EPOCH,
        Integer.MIN_VALUE, null, null, null, null), WorkerProtocol.LOG), payloads);
    assertEquals(new WorkerProtocol.Log(Instant.EPOCH, Integer.MIN_VALUE, null, null, null, null), plain);
  }

  @Test
  void logWithUnserializableExceptionCarriesARemoteException() throws Exception {
    class Local extends RuntimeException {
      private static final long serialVersionUID = 1L;
      @SuppressWarnings({"unused", "serial"})
      private final Object notSerializable = new Object();

      Local() {
        super("cannot travel");
      }
    }
    WorkerProtocol.Log log = WorkerProtocol.decodeLog(body(WorkerProtocol.log(payloads, Instant.EPOCH, 1000, "x",
        "m", "t", new Local()), WorkerProtocol.LOG), payloads);
    RemoteException remote = assertInstanceOf(RemoteException.class, log.thrown());
    assertEquals(Local.class.getName(), remote.remoteClassName());
    assertEquals("cannot travel", remote.remoteMessage());
  }

  /** A LOG body after its type byte: time, level, logger, message, thread, then {@code tail}. */
  private static ByteBuffer logBody(long seconds, int nano, byte... tail) {
    Buf b = new Buf(64).putLong(seconds).putInt(nano).putInt(800).putString("l").putString("m").putString("t");
    b.write(tail, 0, tail.length);
    return b.toByteBuffer();
  }

  @Test
  void malformedLogsAreRejectedWithTheirReason() {
    ProtocolException nano = assertThrows(ProtocolException.class,
        () -> WorkerProtocol.decodeLog(logBody(0, 1_000_000_000, (byte) 0), payloads));
    assertEquals("bad nanosecond 1000000000 in LOG", nano.getMessage());
    assertThrows(ProtocolException.class, () -> WorkerProtocol.decodeLog(logBody(0, -1, (byte) 0), payloads),
        "negative nanosecond");
    ProtocolException time = assertThrows(ProtocolException.class,
        () -> WorkerProtocol.decodeLog(logBody(Long.MAX_VALUE, 0, (byte) 0), payloads));
    assertTrue(time.getMessage().contains("bad time"), time.getMessage());
    ProtocolException flag = assertThrows(ProtocolException.class,
        () -> WorkerProtocol.decodeLog(logBody(0, 0, (byte) 2), payloads));
    assertEquals("bad thrown flag 2 in LOG", flag.getMessage());
    ProtocolException trailing = assertThrows(ProtocolException.class,
        () -> WorkerProtocol.decodeLog(logBody(0, 0, (byte) 0, (byte) 7, (byte) 7), payloads));
    assertEquals("2 bytes after the end of a LOG", trailing.getMessage());
    ProtocolException truncated = assertThrows(ProtocolException.class,
        () -> WorkerProtocol.decodeLog(ByteBuffer.allocate(15), payloads));
    assertTrue(truncated.getMessage().contains("truncated LOG"), truncated.getMessage());
    // a logger name claiming 2^30 bytes: a runtime exception, no 1 GiB allocation
    ByteBuffer huge = new Buf(64).putLong(0).putInt(0).putInt(800).putInt(1 << 30).put('x').toByteBuffer();
    assertRejected(() -> WorkerProtocol.decodeLog(huge, payloads), "LOG with a 2^30-byte logger name");
    ByteBuffer deep = new Buf(64).putLong(0).putInt(0).putInt(800).putString("l").putString("m").putString("t")
        .put(1).put(0).putString("x.Y").putString("m").putInt(1 << 30).toByteBuffer();
    assertRejected(() -> WorkerProtocol.decodeLog(deep, payloads), "LOG whose error has stack depth 2^30");
  }

  // ------------------------------------------------------------------ RECALL, RECALLED

  @Test
  void recallRoundTrip() throws Exception {
    long[] ids = {1, Long.MAX_VALUE, -5, 1L << 40};
    ByteBuffer b = body(WorkerProtocol.recall(ids), WorkerProtocol.RECALL);
    assertArrayEquals(ids, WorkerProtocol.decodeRecall(b));
    assertFalse(b.hasRemaining(), "RECALL decoder must consume the whole message");
    assertArrayEquals(new long[0], WorkerProtocol.decodeRecall(body(WorkerProtocol.recall(new long[0]),
        WorkerProtocol.RECALL)), "an empty RECALL");
  }

  @Test
  void recalledRoundTrip() throws Exception {
    WorkerProtocol.Recalled r =
        WorkerProtocol.decodeRecalled(body(WorkerProtocol.recalled(17, new long[] {18, 19}), WorkerProtocol.RECALLED));
    assertEquals(17, r.runningTaskId());
    assertArrayEquals(new long[] {18, 19}, r.taskIds());

    WorkerProtocol.Recalled idle =
        WorkerProtocol.decodeRecalled(body(WorkerProtocol.recalled(-1, new long[0]), WorkerProtocol.RECALLED));
    assertEquals(-1, idle.runningTaskId(), "-1: nothing running");
    assertEquals(0, idle.taskIds().length);
  }

  @Test
  void recallWithHugeCountIsRejectedWithoutAllocating() {
    // i32 count = 2^30 but only two ids follow: must not allocate 8 GiB nor read past the end.
    ByteBuffer m = new Buf(32).putInt(1 << 30).putLong(1).putLong(2).toByteBuffer();
    ProtocolException e = assertThrows(ProtocolException.class, () -> WorkerProtocol.decodeRecall(m));
    assertTrue(e.getMessage().contains("bad task count 1073741824 in RECALL"), e.getMessage());

    ByteBuffer negative = new Buf(8).putInt(-1).toByteBuffer();
    assertThrows(ProtocolException.class, () -> WorkerProtocol.decodeRecall(negative), "negative count");

    ByteBuffer maxInt = new Buf(8).putInt(Integer.MAX_VALUE).toByteBuffer();
    assertThrows(ProtocolException.class, () -> WorkerProtocol.decodeRecall(maxInt), "count 2^31-1");
  }

  @Test
  void recalledWithHugeCountOrTruncatedHeaderIsRejected() {
    ByteBuffer huge = new Buf(32).putLong(5).putInt(1 << 30).putLong(1).toByteBuffer();
    ProtocolException e = assertThrows(ProtocolException.class, () -> WorkerProtocol.decodeRecalled(huge));
    assertTrue(e.getMessage().contains("in RECALLED"), e.getMessage());

    ByteBuffer shortHeader = new Buf(16).putLong(5).put(0).toByteBuffer();
    ProtocolException t = assertThrows(ProtocolException.class, () -> WorkerProtocol.decodeRecalled(shortHeader));
    assertTrue(t.getMessage().contains("truncated RECALLED"), t.getMessage());
  }

  // ------------------------------------------------------------------ INIT

  @Test
  void initWithoutInitializerRoundTrip() throws Exception {
    ByteBuffer m = WorkerProtocol.init("java", "!com.example.*", true, 512L << 20, null);
    WorkerProtocol.Init init = WorkerProtocol.decodeInit(body(m, WorkerProtocol.INIT));
    assertEquals("java", init.codec());
    assertEquals("!com.example.*", init.serialFilter());
    assertTrue(init.captureOutput());
    assertEquals(512L << 20, init.maxMemory());
    assertNull(init.initializer(), "no initializer was given");

    WorkerProtocol.Init noFilter =
        WorkerProtocol.decodeInit(body(WorkerProtocol.init("kryo", null, false, 0, null), WorkerProtocol.INIT));
    assertEquals("kryo", noFilter.codec());
    assertNull(noFilter.serialFilter(), "a null filter stays null (length -1)");
    assertFalse(noFilter.captureOutput());
    assertEquals(0, noFilter.maxMemory());
  }

  static final class SetFlag implements SerializableRunnable {
    private static final long serialVersionUID = 1L;
    final String marker;

    SetFlag(String marker) {
      this.marker = marker;
    }

    @Override
    public void run() {}
  }

  @Test
  void initWithInitializerRoundTrip() throws Exception {
    Buf initializer = new Buf(64);
    payloads.encode(new SetFlag("init-marker"), initializer, "the initializer");
    ByteBuffer m = WorkerProtocol.init("java", null, false, 0, initializer);
    WorkerProtocol.Init init = WorkerProtocol.decodeInit(body(m, WorkerProtocol.INIT));
    assertNotNull(init.initializer(), "the initializer's bytes");
    assertEquals(initializer.size(), init.initializer().remaining(), "initializer length");
    Object decoded = payloads.decode(init.initializer(), "the initializer");
    assertEquals("init-marker", assertInstanceOf(SetFlag.class, decoded).marker);
  }

  @Test
  void anInitOverMaxFrameSizeIsRefusedBeforeSending() {
    Buf initializer = new Buf(4096);
    initializer.write(new byte[3000], 0, 3000);
    assertEquals(3000 + 30, WorkerProtocol.init("java", "!x.*", true, 9, initializer, 3030).remaining(),
        "exactly maxFrameSize is fine");
    TaskSerializationException e = assertThrows(TaskSerializationException.class,
        () -> WorkerProtocol.init("java", "!x.*", true, 9, initializer, 3029));
    assertEquals("the workers' INIT message is 3030 bytes (the initializer encodes to 3000 bytes, the serialFilter"
        + " pattern to 4 characters), over maxFrameSize 3029: let the initializer capture less, or raise"
        + " maxFrameSize", e.getMessage());
  }

  @Test
  void initWithBadLengthsIsRejected() {
    // initializer length larger than what follows
    ByteBuffer tooLong = new Buf(64).putString("java").putString(null).put(0).putLong(0).putInt(100).put(1)
        .toByteBuffer();
    ProtocolException e = assertThrows(ProtocolException.class, () -> WorkerProtocol.decodeInit(tooLong));
    assertTrue(e.getMessage().contains("bad initializer length 100"), e.getMessage());

    ByteBuffer negative = new Buf(64).putString("java").putString(null).put(0).putLong(0).putInt(-7).toByteBuffer();
    assertThrows(ProtocolException.class, () -> WorkerProtocol.decodeInit(negative), "negative initializer length");

    // codec name claiming 2^30 bytes: a runtime exception, no 1 GiB allocation
    ByteBuffer hugeString = new Buf(64).putInt(1 << 30).put('j').toByteBuffer();
    assertRejected(() -> WorkerProtocol.decodeInit(hugeString), "INIT with a 2^30-byte codec name");
  }

  // ------------------------------------------------------------------ DEFINE, FORGET

  @Test
  void defineRoundTrip() {
    Buf b = WorkerProtocol.beginDefine(99);
    payloads.encode(IDENTITY, b, "the task function");
    ByteBuffer m = body(b.toByteBuffer(), WorkerProtocol.DEFINE);
    assertEquals(99, WorkerProtocol.decodeDefineId(m));
    Object fn = payloads.decode(m, "the task function");
    assertInstanceOf(SerializableFunction.class, fn, "the function's bytes follow the id");
  }

  @Test
  void functionTableEntryDefineMessageCarriesItsId() throws Exception {
    FunctionTable.Entry entry = encoder.function(IDENTITY);
    ByteBuffer m = body(entry.defineMessage(), WorkerProtocol.DEFINE);
    assertEquals(entry.id, WorkerProtocol.decodeDefineId(m), "DEFINE id == entry id");
    @SuppressWarnings("unchecked")
    SerializableFunction<Object, Object> fn = (SerializableFunction<Object, Object>) payloads.decode(m, "fn");
    assertEquals("same", fn.apply("same"));
    ByteBuffer consumed = entry.defineMessage();
    int size = consumed.remaining();
    consumed.position(consumed.limit());
    assertEquals(size, entry.defineMessage().remaining(), "defineMessage() gives a fresh view every time");
  }

  @Test
  void forgetRoundTrip() {
    ByteBuffer m = WorkerProtocol.forget(1234);
    assertEquals(5, m.remaining(), "FORGET is u8 + i32");
    assertEquals(1234, WorkerProtocol.decodeForget(body(m, WorkerProtocol.FORGET)));
  }

  // ------------------------------------------------------------------ TASK

  @Test
  void applyTaskRoundTripAndPeek() {
    TaskEncoder.Encoded e = encoder.single(IDENTITY, WorkerProtocol.KIND_APPLY, List.of("arg", 7), true);
    ByteBuffer m = e.message().duplicate();
    int before = m.position();
    assertEquals(e.id(), WorkerProtocol.peekTaskId(m), "peekTaskId reads the id");
    assertEquals(before, m.position(), "peekTaskId must not consume");
    ByteBuffer b = body(m, WorkerProtocol.TASK);
    WorkerProtocol.TaskHeader h = WorkerProtocol.decodeTaskHeader(b);
    assertEquals(new WorkerProtocol.TaskHeader(e.id(), e.function().id, WorkerProtocol.KIND_APPLY), h);
    assertEquals(List.of("arg", 7), payloads.decode(b, "the argument"), "the argument follows the header");
  }

  @Test
  void callTaskHasOnlyAHeader() {
    TaskEncoder.Encoded e = encoder.single(IDENTITY, WorkerProtocol.KIND_CALL, null, false);
    assertEquals(WorkerProtocol.TASK_HEADER, e.message().remaining(), "CALL/RUN tasks are just the header");
    ByteBuffer b = body(e.message(), WorkerProtocol.TASK);
    WorkerProtocol.TaskHeader h = WorkerProtocol.decodeTaskHeader(b);
    assertEquals(WorkerProtocol.KIND_CALL, h.kind());
    assertEquals(e.id(), h.taskId());
    assertFalse(b.hasRemaining());
  }

  @Test
  void peekTaskIdWorksAtANonZeroPosition() {
    TaskEncoder.Encoded e = encoder.single(IDENTITY, WorkerProtocol.KIND_RUN, null, false);
    ByteBuffer padded = ByteBuffer.allocate(3 + e.message().remaining());
    padded.position(3);
    padded.put(e.message());
    padded.position(3);
    assertEquals(e.id(), WorkerProtocol.peekTaskId(padded), "peekTaskId is relative to the buffer's position");
  }

  @Test
  void chunkTaskRoundTrip() {
    FunctionTable.Entry entry = encoder.function(IDENTITY);
    TaskEncoder.Encoded e = encoder.chunk(entry, List.of("a", 2, 3L).iterator(), 3, 0);
    ByteBuffer b = body(e.message(), WorkerProtocol.TASK);
    WorkerProtocol.TaskHeader h = WorkerProtocol.decodeTaskHeader(b);
    assertEquals(WorkerProtocol.KIND_CHUNK, h.kind());
    assertEquals(entry.id, h.fnId());
    int n = b.getInt();
    assertEquals(3, n, "chunk item count");
    List<Object> items = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      int len = b.getInt();
      ByteBuffer item = b.slice();
      item.limit(len);
      items.add(payloads.decode(item, "item"));
      b.position(b.position() + len);
    }
    assertEquals(List.of("a", 2, 3L), items);
    assertFalse(b.hasRemaining());
  }

  @Test
  void truncatedTaskHeaderIsARuntimeException() {
    ByteBuffer b = body(encoder.single(IDENTITY, WorkerProtocol.KIND_RUN, null, false).message(), WorkerProtocol.TASK);
    b.limit(b.position() + 5);
    assertRejected(() -> WorkerProtocol.decodeTaskHeader(b), "TASK header cut after 5 bytes");
  }

  // ------------------------------------------------------------------ RESULT

  private ByteBuffer okResult(long taskId, long execNanos, Object value) {
    Buf out = new Buf(64);
    int nanosPos = WorkerProtocol.beginResult(out, taskId);
    out.put(WorkerProtocol.STATUS_OK);
    payloads.encode(value, out, "the result");
    out.setLong(nanosPos, execNanos);
    return out.toByteBuffer();
  }

  private ByteBuffer errorResult(long taskId, Throwable t, byte origin) {
    Buf out = new Buf(64);
    WorkerProtocol.beginResult(out, taskId);
    out.put(WorkerProtocol.STATUS_ERROR);
    payloads.encodeError(t, origin, out);
    return out.toByteBuffer();
  }

  /** A CHUNK result: the encoded values as given (raw bytes each), then the failure if any. */
  private ByteBuffer chunkResult(long taskId, List<byte[]> encodedValues, Throwable failure, byte origin) {
    Buf out = new Buf(64);
    int nanosPos = WorkerProtocol.beginResult(out, taskId);
    out.put(WorkerProtocol.STATUS_CHUNK).putInt(encodedValues.size());
    for (byte[] v : encodedValues) {
      out.putBytes(v, 0, v.length);
    }
    if (failure == null) {
      out.put(0);
    } else {
      out.put(1);
      payloads.encodeError(failure, origin, out);
    }
    out.setLong(nanosPos, 77);
    return out.toByteBuffer();
  }

  private byte[] encoded(Object value) {
    Buf b = new Buf(16);
    payloads.encode(value, b, "value");
    return Arrays.copyOf(b.array(), b.size());
  }

  private WorkerProtocol.Result decodeResult(ByteBuffer m) throws ProtocolException {
    return WorkerProtocol.decodeResult(body(m, WorkerProtocol.RESULT), payloads);
  }

  @Test
  void okResultRoundTrip() throws Exception {
    WorkerProtocol.Result r = decodeResult(okResult(41, 1_234_567, List.of("x", 1)));
    assertEquals(41, r.taskId());
    assertEquals(1_234_567, r.execNanos(), "execNanos is patched in with setLong");
    assertEquals(List.of("x", 1), r.value());
    assertNull(r.values(), "not a chunk");
    assertNull(r.failure());
    assertFalse(r.thrownByTask());

    WorkerProtocol.Result nullValue = decodeResult(okResult(42, 0, null));
    assertNull(nullValue.value(), "a null result");
    assertNull(nullValue.failure(), "a null result is not a failure");
  }

  @Test
  void errorResultRoundTripKeepsTheOrigin() throws Exception {
    WorkerProtocol.Result byTask =
        decodeResult(errorResult(5, new ArithmeticException("/ by zero"), WorkerProtocol.ORIGIN_TASK));
    assertEquals(5, byTask.taskId());
    assertEquals("/ by zero", assertInstanceOf(ArithmeticException.class, byTask.failure()).getMessage());
    assertTrue(byTask.thrownByTask(), "ORIGIN_TASK: thrown by the task");
    assertNull(byTask.value());
    assertNull(byTask.values());

    WorkerProtocol.Result byPool = decodeResult(errorResult(6,
        new TaskSerializationException("cannot encode the result"), WorkerProtocol.ORIGIN_PROCPOOL));
    assertInstanceOf(TaskSerializationException.class, byPool.failure());
    assertFalse(byPool.thrownByTask(), "ORIGIN_PROCPOOL: raised by procpool");
  }

  @Test
  void chunkResultWithoutFailureRoundTrip() throws Exception {
    WorkerProtocol.Result r =
        decodeResult(chunkResult(9, List.of(encoded("a"), encoded(null), encoded(3L)), null, (byte) 0));
    assertEquals(9, r.taskId());
    assertEquals(77, r.execNanos());
    assertEquals(Arrays.asList("a", null, 3L), r.values());
    assertNull(r.failure(), "no failure flag");
    assertNull(r.value());

    WorkerProtocol.Result empty = decodeResult(chunkResult(10, List.of(), null, (byte) 0));
    assertEquals(List.of(), empty.values(), "an empty chunk still has a (empty) values list");
  }

  @Test
  void chunkResultWithFailureRoundTrip() throws Exception {
    WorkerProtocol.Result r = decodeResult(chunkResult(11, List.of(encoded(1), encoded(2)),
        new IllegalArgumentException("item #2 is bad"), WorkerProtocol.ORIGIN_TASK));
    assertEquals(List.of(1, 2), r.values(), "the items that ran before the failure");
    assertEquals("item #2 is bad", assertInstanceOf(IllegalArgumentException.class, r.failure()).getMessage());
    assertTrue(r.thrownByTask());
  }

  // A value class that exists (A) and two same-length names patched into its encoding: one that does
  // not exist (Z) and one whose static initializer fails (B).
  static final class ValueA implements Serializable {
    private static final long serialVersionUID = 1L;
  }

  static final class ValueB implements Serializable {
    private static final long serialVersionUID = 1L;

    static {
      failInit();
    }

    private static void failInit() {
      throw new IllegalStateException("ValueB cannot initialize");
    }
  }

  private byte[] encodedAs(String simpleName) {
    byte[] b = encoded(new ValueA());
    byte[] from = (ValueA.class.getName()).getBytes(StandardCharsets.UTF_8);
    byte[] to = (ValueA.class.getName().replace("$ValueA", "$" + simpleName)).getBytes(StandardCharsets.UTF_8);
    assertEquals(from.length, to.length, "patched names must keep the length");
    int replaced = 0;
    outer:
    for (int i = 0; i + from.length <= b.length; i++) {
      for (int j = 0; j < from.length; j++) {
        if (b[i + j] != from[j]) {
          continue outer;
        }
      }
      System.arraycopy(to, 0, b, i, to.length);
      replaced++;
    }
    assertEquals(1, replaced, "the class name occurs once in the encoding");
    return b;
  }

  private ByteBuffer okResultRaw(long taskId, byte[] encodedValue) {
    Buf out = new Buf(64);
    WorkerProtocol.beginResult(out, taskId);
    out.put(WorkerProtocol.STATUS_OK);
    out.write(encodedValue, 0, encodedValue.length);
    return out.toByteBuffer();
  }

  @Test
  void resultValueWhoseClassIsMissingFailsThatTaskOnly() throws Exception {
    WorkerProtocol.Result r = decodeResult(okResultRaw(21, encodedAs("ValueZ")));
    assertEquals(21, r.taskId(), "the task id is still known");
    TaskSerializationException e = assertInstanceOf(TaskSerializationException.class, r.failure(),
        "an undecodable value becomes the task's failure, not an exception out of the decoder");
    assertTrue(e.getMessage().contains("the result of task 21"), e.getMessage());
    assertInstanceOf(ClassNotFoundException.class, e.getCause());
    assertFalse(r.thrownByTask(), "procpool raised it, not the task");
    assertNull(r.value());
  }

  @Test
  void resultValueWhoseClassFailsToInitializeFailsThatTaskOnly() throws Exception {
    WorkerProtocol.Result r = decodeResult(okResultRaw(22, encodedAs("ValueB")));
    TaskSerializationException e = assertInstanceOf(TaskSerializationException.class, r.failure(),
        "a LinkageError while decoding a value must fail that task only");
    assertInstanceOf(LinkageError.class, e.getCause(), "cause: " + e.getCause());
  }

  @Test
  void chunkValueWhoseClassIsMissingKeepsTheEarlierValues() throws Exception {
    WorkerProtocol.Result r =
        decodeResult(chunkResult(23, List.of(encoded("ok"), encodedAs("ValueZ"), encoded("never")), null, (byte) 0));
    assertEquals(List.of("ok"), r.values(), "values decoded before the bad one");
    TaskSerializationException e = assertInstanceOf(TaskSerializationException.class, r.failure());
    assertTrue(e.getMessage().contains("a result of task 23"), e.getMessage());
  }

  @Test
  void corruptOkValueBecomesTheTasksFailure() throws Exception {
    // TAG_STRING claiming 2^30 bytes
    WorkerProtocol.Result r = decodeResult(okResultRaw(24, new byte[] {3, 0x40, 0, 0, 0, 'x'}));
    assertInstanceOf(TaskSerializationException.class, r.failure(), "corrupt value bytes fail that task");
  }

  @Test
  void badResultStatusIsAProtocolException() {
    Buf out = new Buf(32);
    WorkerProtocol.beginResult(out, 1);
    out.put(9);
    ProtocolException e = assertThrows(ProtocolException.class, () -> decodeResult(out.toByteBuffer()));
    assertTrue(e.getMessage().contains("bad result status 9"), e.getMessage());
  }

  @Test
  void chunkResultWithHugeCountIsRejectedWithoutAllocating() {
    Buf out = new Buf(32);
    WorkerProtocol.beginResult(out, 1);
    out.put(WorkerProtocol.STATUS_CHUNK).putInt(1 << 30).putInt(1).put(0);
    ProtocolException e = assertThrows(ProtocolException.class, () -> decodeResult(out.toByteBuffer()));
    assertTrue(e.getMessage().contains("bad chunk size"), e.getMessage());
  }

  @Test
  void chunkValueLengthPastTheEndIsAProtocolException() {
    Buf out = new Buf(32);
    WorkerProtocol.beginResult(out, 3);
    out.put(WorkerProtocol.STATUS_CHUNK).putInt(1).putInt(1 << 30).put(0);
    ProtocolException e = assertThrows(ProtocolException.class, () -> decodeResult(out.toByteBuffer()));
    assertTrue(e.getMessage().contains("bad value length 1073741824 in task 3"), e.getMessage());

    Buf neg = new Buf(32);
    WorkerProtocol.beginResult(neg, 3);
    neg.put(WorkerProtocol.STATUS_CHUNK).putInt(1).putInt(-4).put(0);
    assertThrows(ProtocolException.class, () -> decodeResult(neg.toByteBuffer()), "negative value length");
  }

  @Test
  void errorRecordWithHugeStackDepthIsRejected() {
    Buf out = new Buf(64);
    WorkerProtocol.beginResult(out, 1);
    out.put(WorkerProtocol.STATUS_ERROR).put(0).putString("x.Y").putString("m").putInt(1 << 30);
    assertRejected(() -> decodeResult(out.toByteBuffer()), "error record with stack depth 2^30");
  }

  // ------------------------------------------------------------------ BULK tasks and results

  /** The "java" codec under another name: per-item encoding, byte for byte the same values. */
  static final class OtherCodec implements io.procpool.api.spi.Codec {
    private final JavaSerializationCodec java = new JavaSerializationCodec();

    @Override
    public String name() {
      return "other";
    }

    @Override
    public void encode(Object value, java.io.OutputStream out) throws java.io.IOException {
      java.encode(value, out);
    }

    @Override
    public Object decode(java.io.InputStream in, ClassLoader loader, java.io.ObjectInputFilter filter)
        throws java.io.IOException, ClassNotFoundException {
      return java.decode(in, loader, filter);
    }
  }

  private static TaskEncoder encoder(io.procpool.api.spi.Codec codec, int maxFrameSize) {
    return new TaskEncoder(new Payloads(codec, SerialFilters.create(null, maxFrameSize),
        WorkerProtocolTest.class.getClassLoader()), maxFrameSize);
  }

  /** The items of a BULK task, checking its kind and type. */
  private static List<Object> bulkItems(ByteBuffer message, byte type) throws ProtocolException {
    ByteBuffer b = body(message, WorkerProtocol.TASK);
    assertEquals(WorkerProtocol.KIND_BULK, WorkerProtocol.decodeTaskHeader(b).kind());
    assertEquals(type, b.get(), "bulk type");
    int n = b.getInt();
    assertEquals(b.limit(), BulkChunk.check(b, type, n, "task"), "check returns the end");
    Object[] items = new Object[n];
    BulkChunk.getAll(b, type, n, items);
    assertFalse(b.hasRemaining());
    return Arrays.asList(items);
  }

  @Test
  void chunksOfOneBoxedTypeAreBulkTasksAndRoundTrip() throws Exception {
    FunctionTable.Entry entry = encoder.function(IDENTITY);
    List<Object> ints = List.of(0, -1, Integer.MIN_VALUE, Integer.MAX_VALUE, 42);
    List<Object> longs = List.of(0L, -1L, Long.MIN_VALUE, Long.MAX_VALUE);
    List<Object> doubles = List.of(0.0, -0.0, Double.NaN, Double.NEGATIVE_INFINITY, 1e-310, Math.PI);
    List<Object> strings = List.of("", "a", "é€𝄞", "x".repeat(70_000));
    Object[][] cases = {{ints, BulkChunk.INT}, {longs, BulkChunk.LONG}, {doubles, BulkChunk.DOUBLE},
        {strings, BulkChunk.STRING}};
    for (Object[] c : cases) {
      @SuppressWarnings("unchecked")
      List<Object> items = (List<Object>) c[0];
      byte type = (Byte) c[1];
      assertEquals(items, bulkItems(encoder.chunk(entry, items.iterator(), items.size(), 0).message(), type));
      TaskEncoder.ChunkedItems upTo = encoder.chunkUpTo(entry, items, 0, items.size());
      assertEquals(items.size(), upTo.count());
      assertEquals(items, bulkItems(upTo.encoded().message(), type));
      assertEquals(items.subList(1, 3), bulkItems(encoder.chunkUpTo(entry, items, 1, 2).encoded().message(), type));
    }
  }

  @Test
  void nullsMixedTypesOtherClassesAndOtherCodecsUseThePerItemEncoding() {
    FunctionTable.Entry entry = encoder.function(IDENTITY);
    List<List<Object>> perItem = List.of(Arrays.asList(1, null, 3), Arrays.asList(null, null), List.of(1, 2L),
        List.of("a", 1), List.of(true, false), List.of(new java.math.BigInteger("1")), List.of(1.0f, 2.0f),
        List.of(new byte[] {1}));
    for (List<Object> items : perItem) {
      ByteBuffer b = body(encoder.chunk(entry, items.iterator(), items.size(), 0).message(), WorkerProtocol.TASK);
      assertEquals(WorkerProtocol.KIND_CHUNK, WorkerProtocol.decodeTaskHeader(b).kind(), "chunk of " + items);
      ByteBuffer u = body(encoder.chunkUpTo(entry, items, 0, items.size()).encoded().message(), WorkerProtocol.TASK);
      assertEquals(WorkerProtocol.KIND_CHUNK, WorkerProtocol.decodeTaskHeader(u).kind(), "chunkUpTo of " + items);
    }
    TaskEncoder other = encoder(new OtherCodec(), 1 << 20);
    FunctionTable.Entry otherEntry = other.function(IDENTITY);
    ByteBuffer b = body(other.chunk(otherEntry, List.of(1, 2, 3).iterator(), 3, 0).message(), WorkerProtocol.TASK);
    assertEquals(WorkerProtocol.KIND_CHUNK, WorkerProtocol.decodeTaskHeader(b).kind(), "a codec other than java");
    ByteBuffer u = body(other.chunkUpTo(otherEntry, List.of(1, 2, 3), 0, 3).encoded().message(), WorkerProtocol.TASK);
    assertEquals(WorkerProtocol.KIND_CHUNK, WorkerProtocol.decodeTaskHeader(u).kind(), "a codec other than java");
  }

  /** Chunks end where the per-item encoding ends them, and a too-large item fails with the same message. */
  @Test
  void bulkChunksSplitWhereThePerItemEncodingWould() {
    int frame = 4096;
    TaskEncoder bulk = encoder(new JavaSerializationCodec(), frame);
    TaskEncoder perItem = encoder(new OtherCodec(), frame);
    FunctionTable.Entry bulkEntry = bulk.function(IDENTITY);
    FunctionTable.Entry perItemEntry = perItem.function(IDENTITY);
    Random random = new Random(14);
    List<String> strings = new ArrayList<>();
    for (int i = 0; i < 300; i++) {
      strings.add("é".repeat(random.nextInt(900)));
    }
    List<Long> longs = new ArrayList<>();
    for (long i = 0; i < 3000; i++) {
      longs.add(i);
    }
    for (List<?> items : List.of(strings, longs)) {
      List<Integer> bulkCounts = new ArrayList<>();
      List<Integer> perItemCounts = new ArrayList<>();
      for (int from = 0; from < items.size(); ) {
        TaskEncoder.ChunkedItems c = bulk.chunkUpTo(bulkEntry, items, from, Math.min(1000, items.size() - from));
        assertTrue(c.encoded().message().remaining() <= frame);
        bulkCounts.add(c.count());
        from += c.count();
      }
      for (int from = 0; from < items.size(); ) {
        TaskEncoder.ChunkedItems c = perItem.chunkUpTo(perItemEntry, items, from, Math.min(1000, items.size() - from));
        perItemCounts.add(c.count());
        from += c.count();
      }
      assertEquals(perItemCounts, bulkCounts);
      assertTrue(bulkCounts.size() > 2, "the items were split: " + bulkCounts);
    }
    List<String> huge = List.of("a", "b".repeat(frame));
    TaskSerializationException b1 = assertThrows(TaskSerializationException.class,
        () -> bulk.chunkUpTo(bulkEntry, huge, 1, 1));
    TaskSerializationException p1 = assertThrows(TaskSerializationException.class,
        () -> perItem.chunkUpTo(perItemEntry, huge, 1, 1));
    assertEquals(p1.getMessage(), b1.getMessage());
    TaskSerializationException b2 = assertThrows(TaskSerializationException.class,
        () -> bulk.chunk(bulkEntry, huge.iterator(), 2, 10));
    TaskSerializationException p2 = assertThrows(TaskSerializationException.class,
        () -> perItem.chunk(perItemEntry, huge.iterator(), 2, 10));
    assertEquals(p2.getMessage(), b2.getMessage());
  }

  /** A BULK result: n, type, the values, then the failure flag and error. */
  private ByteBuffer bulkResult(long taskId, byte type, List<?> values, Throwable failure) {
    Buf out = new Buf(64);
    int nanosPos = WorkerProtocol.beginResult(out, taskId);
    out.put(WorkerProtocol.STATUS_BULK).putInt(values.size()).put(type);
    for (Object v : values) {
      BulkChunk.put(out, type, v);
    }
    if (failure == null) {
      out.put(0);
    } else {
      out.put(1);
      payloads.encodeError(failure, WorkerProtocol.ORIGIN_TASK, out);
    }
    out.setLong(nanosPos, 5);
    return out.toByteBuffer();
  }

  @Test
  void bulkResultRoundTrip() throws Exception {
    WorkerProtocol.Result r = decodeResult(bulkResult(7, BulkChunk.LONG, List.of(1L, Long.MIN_VALUE), null));
    assertEquals(7, r.taskId());
    assertEquals(5, r.execNanos());
    assertEquals(List.of(1L, Long.MIN_VALUE), r.values());
    assertNull(r.failure());
    WorkerProtocol.Result s = decodeResult(bulkResult(8, BulkChunk.STRING, List.of("a", "", "€"),
        new IllegalStateException("item 3")));
    assertEquals(List.of("a", "", "€"), s.values(), "the values before the failing item");
    assertInstanceOf(IllegalStateException.class, s.failure());
    assertEquals("item 3", s.failure().getMessage());
    assertTrue(s.thrownByTask());
    WorkerProtocol.Result d = decodeResult(bulkResult(9, BulkChunk.DOUBLE, List.of(-0.0, Double.NaN), null));
    assertEquals(List.of(-0.0, Double.NaN), d.values());
    WorkerProtocol.Result i = decodeResult(bulkResult(9, BulkChunk.INT, List.of(3, -3), null));
    assertEquals(List.of(3, -3), i.values());
  }

  @Test
  void corruptBulkResultsAreProtocolExceptions() {
    Buf huge = new Buf(32);
    WorkerProtocol.beginResult(huge, 1);
    huge.put(WorkerProtocol.STATUS_BULK).putInt(1 << 30).put(BulkChunk.LONG).putLong(1).put(0);
    assertThrows(ProtocolException.class, () -> decodeResult(huge.toByteBuffer()), "count 2^30");
    Buf many = new Buf(32);
    WorkerProtocol.beginResult(many, 1);
    many.put(WorkerProtocol.STATUS_BULK).putInt(5).put(BulkChunk.LONG).putLong(1).put(0).putInt(0);
    assertThrows(ProtocolException.class, () -> decodeResult(many.toByteBuffer()), "5 longs in 13 bytes");
    Buf type = new Buf(32);
    WorkerProtocol.beginResult(type, 1);
    type.put(WorkerProtocol.STATUS_BULK).putInt(1).put(99).putInt(1).put(0);
    ProtocolException t = assertThrows(ProtocolException.class, () -> decodeResult(type.toByteBuffer()));
    assertTrue(t.getMessage().contains("bad bulk value type 99"), t.getMessage());
    for (int len : new int[] {-1, 1 << 30, 6}) {
      Buf str = new Buf(32);
      WorkerProtocol.beginResult(str, 1);
      str.put(WorkerProtocol.STATUS_BULK).putInt(1).put(BulkChunk.STRING).putInt(len).put('a').put(0);
      assertThrows(ProtocolException.class, () -> decodeResult(str.toByteBuffer()), "string length " + len);
    }
    for (byte bt : new byte[] {BulkChunk.INT, BulkChunk.LONG, BulkChunk.DOUBLE, BulkChunk.STRING}) {
      List<?> values = bt == BulkChunk.INT ? List.of(1, 2) : bt == BulkChunk.LONG ? List.of(1L, 2L)
          : bt == BulkChunk.DOUBLE ? List.of(1.0, 2.0) : List.of("ab", "cd");
      byte[] whole = bytes(bulkResult(3, bt, values, null));
      for (int cut = 1; cut < whole.length; cut++) {
        ByteBuffer prefix = ByteBuffer.wrap(Arrays.copyOf(whole, cut));
        assertRejected(() -> decodeResult(prefix), "BULK result cut after " + cut + " bytes");
      }
    }
    // With an error record: its serialized exception is optional (decodeError falls back), so a cut
    // there may decode; anything else must be rejected cleanly.
    byte[] failed = bytes(bulkResult(3, BulkChunk.STRING, List.of("ab", "cd"), shallow(new IllegalStateException("x"))));
    for (int cut = 1; cut < failed.length; cut++) {
      ByteBuffer prefix = ByteBuffer.wrap(Arrays.copyOf(failed, cut));
      decodesOrRejects(() -> decodeResult(prefix), "failed BULK result cut after " + cut + " bytes");
    }
  }

  @Test
  void corruptBulkTasksAreProtocolExceptions() {
    FunctionTable.Entry entry = encoder.function(IDENTITY);
    for (List<Object> items : List.<List<Object>>of(List.of(1, 2, 3), List.of(1L, 2L), List.of("ab", "", "c"))) {
      ByteBuffer b = body(encoder.chunk(entry, items.iterator(), items.size(), 0).message(), WorkerProtocol.TASK);
      WorkerProtocol.decodeTaskHeader(b);
      byte type = b.get();
      int n = b.getInt();
      for (int cut = b.position(); cut < b.limit(); cut++) {
        ByteBuffer prefix = b.duplicate().limit(cut);
        assertThrows(ProtocolException.class, () -> BulkChunk.check(prefix, type, n, "task"), items + " cut at " + cut);
      }
      assertThrows(ProtocolException.class, () -> BulkChunk.check(b.duplicate(), type, Integer.MAX_VALUE, "task"));
      assertThrows(ProtocolException.class, () -> BulkChunk.check(b.duplicate(), type, -1, "task"));
      assertThrows(ProtocolException.class, () -> BulkChunk.check(b.duplicate(), (byte) 0, n, "task"));
    }
  }

  // ------------------------------------------------------------------ truncation and corruption

  /** Must throw ProtocolException or a RuntimeException; an Error (OOM, StackOverflow) fails the test. */
  private static void assertRejected(ThrowingRunnable decode, String what) {
    try {
      decode.run();
    } catch (ProtocolException | RuntimeException e) {
      return;
    } catch (Throwable t) {
      fail(what + ": expected ProtocolException or a RuntimeException, got " + t, t);
    }
    fail(what + ": malformed input was accepted");
  }

  /** Decodes or rejects; anything else (an Error, another checked exception) fails the test. */
  private static void decodesOrRejects(ThrowingRunnable decode, String what) {
    try {
      decode.run();
    } catch (ProtocolException | RuntimeException e) {
      // rejected: fine
    } catch (Throwable t) {
      fail(what + ": expected a clean decode, a ProtocolException or a RuntimeException, got " + t, t);
    }
  }

  interface ThrowingRunnable {
    void run() throws Exception;
  }

  interface Decoder {
    void decode(ByteBuffer body) throws Exception;
  }

  /** {@code t} with a two-frame stack, so that messages stay small and byte-by-byte fuzzing stays fast. */
  private static <T extends Throwable> T shallow(T t) {
    t.setStackTrace(new StackTraceElement[] {
        new StackTraceElement("a.B", "run", "B.java", 10), new StackTraceElement("a.C", "call", null, -1)});
    return t;
  }

  private List<Object[]> sampleMessages() {
    Buf initializer = new Buf(64);
    payloads.encode(new SetFlag("m"), initializer, "the initializer");
    List<Object[]> l = new ArrayList<>();
    Decoder result = b -> WorkerProtocol.decodeResult(b, payloads);
    l.add(new Object[] {"HELLO", WorkerProtocol.hello(3, 4), (Decoder) WorkerProtocol::decodeHello});
    l.add(new Object[] {"RECALL", WorkerProtocol.recall(new long[] {1, 2, 3}), (Decoder) WorkerProtocol::decodeRecall});
    l.add(new Object[] {"RECALLED", WorkerProtocol.recalled(1, new long[] {2, 3}),
        (Decoder) WorkerProtocol::decodeRecalled});
    l.add(new Object[] {"INIT", WorkerProtocol.init("java", "!x.*", true, 9, initializer),
        (Decoder) WorkerProtocol::decodeInit});
    l.add(new Object[] {"INIT_FAILED", WorkerProtocol.initFailed(payloads, shallow(new IllegalStateException("x"))),
        (Decoder) b -> WorkerProtocol.decodeInitFailed(b, payloads)});
    l.add(new Object[] {"OUTPUT", WorkerProtocol.output(WorkerProtocol.STREAM_OUT, new byte[] {1, 2}, 0, 2),
        (Decoder) WorkerProtocol::decodeOutput});
    l.add(new Object[] {"FORGET", WorkerProtocol.forget(5), (Decoder) WorkerProtocol::decodeForget});
    l.add(new Object[] {"LOG", WorkerProtocol.log(payloads, Instant.ofEpochSecond(5, 6), 800, "a.b", "text", "main",
        null), (Decoder) b -> WorkerProtocol.decodeLog(b, payloads)});
    l.add(new Object[] {"LOG thrown", WorkerProtocol.log(payloads, Instant.ofEpochSecond(5, 6), 1000, "a.b", "text",
        "main", shallow(new IllegalStateException("x"))), (Decoder) b -> WorkerProtocol.decodeLog(b, payloads)});
    l.add(new Object[] {"SECRET", WorkerProtocol.secret(7, new byte[32]), (Decoder) WorkerProtocol::decodeSecret});
    l.add(new Object[] {"SECRET_REPLY", WorkerProtocol.secretReply(7, new byte[] {1, 2, 3}),
        (Decoder) WorkerProtocol::decodeSecretReply});
    l.add(new Object[] {"TASK", encoder.single(IDENTITY, WorkerProtocol.KIND_APPLY, "arg", true).message(),
        (Decoder) WorkerProtocol::decodeTaskHeader});
    l.add(new Object[] {"RESULT ok", okResult(1, 2, List.of("v", 1)), result});
    l.add(new Object[] {"RESULT error", errorResult(1, shallow(new IllegalStateException("e")), WorkerProtocol.ORIGIN_TASK),
        result});
    l.add(new Object[] {"RESULT chunk", chunkResult(1, List.of(encoded("a"), encoded(2)),
        shallow(new IllegalStateException("f")), WorkerProtocol.ORIGIN_TASK), result});
    return l;
  }

  @Test
  void everyTruncationIsRejectedOrDecodedNeverAnError() {
    for (Object[] sample : sampleMessages()) {
      String name = (String) sample[0];
      byte[] full = bytes((ByteBuffer) sample[1]);
      Decoder decoder = (Decoder) sample[2];
      for (int len = 1; len < full.length; len++) {
        ByteBuffer b = ByteBuffer.wrap(Arrays.copyOf(full, len));
        b.get();
        String what = name + " truncated to " + len + " of " + full.length + " bytes";
        decodesOrRejects(() -> decoder.decode(b), what);
      }
    }
  }

  @Test
  void truncatedFixedSizeMessagesAreAlwaysRejected() {
    for (Object[] sample : sampleMessages()) {
      String name = (String) sample[0];
      if (!List.of("HELLO", "RECALL", "RECALLED", "FORGET", "TASK", "SECRET", "SECRET_REPLY", "LOG").contains(name)) {
        continue; // the others may legitimately end early (e.g. OUTPUT bytes to the end)
      }
      byte[] full = bytes((ByteBuffer) sample[1]);
      Decoder decoder = (Decoder) sample[2];
      int needed = name.equals("TASK") ? WorkerProtocol.TASK_HEADER : full.length;
      for (int len = 1; len < needed; len++) {
        ByteBuffer b = ByteBuffer.wrap(Arrays.copyOf(full, len));
        b.get();
        assertRejected(() -> decoder.decode(b), name + " truncated to " + len + " of " + full.length + " bytes");
      }
    }
  }

  @Test
  void randomCorruptionIsRejectedOrDecodedNeverAnError() {
    Random random = new Random(20240601);
    for (Object[] sample : sampleMessages()) {
      String name = (String) sample[0];
      byte[] full = bytes((ByteBuffer) sample[1]);
      Decoder decoder = (Decoder) sample[2];
      for (int round = 0; round < 300; round++) {
        byte[] corrupt = full.clone();
        int flips = 1 + random.nextInt(4);
        for (int i = 0; i < flips; i++) {
          int at = 1 + random.nextInt(corrupt.length - 1);
          corrupt[at] = random.nextInt(3) == 0 ? (byte) 0x7f : (byte) random.nextInt(256);
        }
        ByteBuffer b = ByteBuffer.wrap(corrupt);
        b.get();
        decodesOrRejects(() -> decoder.decode(b), name + " corrupted (round " + round + ")");
      }
    }
  }

  // ------------------------------------------------------------------ SECRET, SECRET_REPLY

  @Test
  void secretRoundTrip() throws Exception {
    byte[] fp = Secrets.fingerprint(new byte[] {9, 8, 7});
    WorkerProtocol.SecretRequest r = WorkerProtocol.decodeSecret(body(WorkerProtocol.secret(42, fp), WorkerProtocol.SECRET));
    assertEquals(42, r.requestId());
    assertArrayEquals(fp, r.fingerprint());
  }

  @Test
  void secretReplyRoundTripWithAndWithoutKey() throws Exception {
    byte[] key = new byte[] {1, 2, 3, 4};
    WorkerProtocol.SecretReply known = WorkerProtocol.decodeSecretReply(
        body(WorkerProtocol.secretReply(5, key), WorkerProtocol.SECRET_REPLY));
    assertEquals(5, known.requestId());
    assertArrayEquals(key, known.key());
    WorkerProtocol.SecretReply unknown = WorkerProtocol.decodeSecretReply(
        body(WorkerProtocol.secretReply(6, null), WorkerProtocol.SECRET_REPLY));
    assertEquals(6, unknown.requestId());
    assertNull(unknown.key());
  }

  @Test
  void secretMessagesWithBadLengthsAreRejected() {
    ByteBuffer huge = ByteBuffer.allocate(12).putLong(1).putInt(1 << 30).flip();
    assertRejected(() -> WorkerProtocol.decodeSecret(huge), "SECRET with a 2^30-byte fingerprint");
    ByteBuffer negative = ByteBuffer.allocate(13).putLong(1).putInt(-2).put((byte) 0).flip();
    assertRejected(() -> WorkerProtocol.decodeSecretReply(negative), "SECRET_REPLY with length -2");
    ByteBuffer trailing = ByteBuffer.allocate(14).putLong(1).putInt(-1).put((byte) 0).put((byte) 0).flip();
    assertRejected(() -> WorkerProtocol.decodeSecretReply(trailing), "SECRET_REPLY 'unknown' with bytes after it");
  }

  @Test
  void secretsRegistryFindsRegisteredKeysByFingerprintOnly() {
    byte[] key = new byte[32];
    new Random(7).nextBytes(key);
    byte[] fp = Secrets.fingerprint(key);
    assertFalse(Arrays.equals(key, fp), "the fingerprint is not the key");
    assertNull(Secrets.lookup(fp), "unknown before registration (no parent in a test JVM)");
    assertArrayEquals(fp, Secrets.register(key));
    assertArrayEquals(key, Secrets.lookup(fp));
  }
}
