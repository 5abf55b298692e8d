package io.procpool.manager.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.procpool.manager.internal.ManagerProtocol.Answer;
import io.procpool.manager.internal.ManagerProtocol.Cancel;
import io.procpool.manager.internal.ManagerProtocol.DecodedRequest;
import io.procpool.manager.internal.ManagerProtocol.Drain;
import io.procpool.manager.internal.ManagerProtocol.MalformedMessageException;
import io.procpool.manager.internal.ManagerProtocol.NoFields;
import io.procpool.manager.internal.ManagerProtocol.Open;
import io.procpool.manager.internal.ManagerProtocol.Opened;
import io.procpool.manager.internal.ManagerProtocol.Put;
import io.procpool.manager.internal.ManagerProtocol.QueueAndTimeout;
import io.procpool.manager.internal.ManagerProtocol.QueueOnly;
import io.procpool.manager.internal.ManagerProtocol.Request;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/** Every message of the {@link ManagerProtocol}: round trips, the exact bytes, and malformed input. */
class ManagerProtocolTest {
  private static final long ID = 0x0102030405060708L;
  private static final long QUEUE = 77;

  // ------------------------------------------------------------------ requests

  /** Encodes, checks the bytes against the grammar, decodes and compares. */
  private static void roundTrip(Request r, byte[] expectedBody) {
    byte[] wire = bytes(r.encode(ID));
    ByteBuffer expected = ByteBuffer.allocate(9 + expectedBody.length).put(r.op()).putLong(ID).put(expectedBody);
    assertArrayEquals(expected.array(), wire, "bytes of " + r);
    assertDecodesTo(r, ManagerProtocol.decodeRequest(ByteBuffer.wrap(wire)));
  }

  /** Same request id and fields ({@link Put}'s item compared by content). */
  private static void assertDecodesTo(Request expected, DecodedRequest actual) {
    assertEquals(ID, actual.requestId());
    if (expected instanceof Put p && actual.request() instanceof Put q) {
      assertEquals(p.queueId(), q.queueId());
      assertEquals(p.timeoutNanos(), q.timeoutNanos());
      assertArrayEquals(p.item(), q.item());
    } else {
      assertEquals(expected, actual.request());
    }
  }

  @Test
  void open() {
    byte[] name = "jobs-ü".getBytes(StandardCharsets.UTF_8);
    roundTrip(new Open(true, true, 5, "jobs-ü"),
        ByteBuffer.allocate(7 + name.length).put((byte) 3).putInt(5).putShort((short) name.length).put(name).array());
    roundTrip(new Open(true, false, 0, "jobs-ü"),
        ByteBuffer.allocate(7 + name.length).put((byte) 1).putInt(0).putShort((short) name.length).put(name).array());
    roundTrip(new Open(false, false, -3, ""),
        ByteBuffer.allocate(7).put((byte) 0).putInt(-3).putShort((short) 0).array());
    roundTrip(new Open(false, true, 9, ""), ByteBuffer.allocate(7).put((byte) 2).putInt(9).putShort((short) 0).array());
  }

  @Test
  void openNameOfTheLargestLength() {
    String name = "n".repeat(ManagerProtocol.MAX_NAME_BYTES);
    Request r = new Open(true, false, 0, name);
    assertDecodesTo(r, ManagerProtocol.decodeRequest(r.encode(ID)));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> new Open(true, false, 0, name + "n"));
    assertTrue(e.getMessage().contains("at most 65535 UTF-8 bytes"), e.getMessage());
  }

  @Test
  void put() {
    byte[] item = {9, 8, 7};
    roundTrip(new Put(QUEUE, 1234, item), ByteBuffer.allocate(19).putLong(QUEUE).putLong(1234).put(item).array());
    roundTrip(new Put(QUEUE, ManagerProtocol.FOREVER, new byte[0]),
        ByteBuffer.allocate(16).putLong(QUEUE).putLong(-1).array());
  }

  @Test
  void getAndJoin() {
    roundTrip(new QueueAndTimeout(ManagerProtocol.GET, QUEUE, 0),
        ByteBuffer.allocate(16).putLong(QUEUE).putLong(0).array());
    roundTrip(new QueueAndTimeout(ManagerProtocol.JOIN, QUEUE, ManagerProtocol.FOREVER),
        ByteBuffer.allocate(16).putLong(QUEUE).putLong(-1).array());
  }

  @Test
  void qsizeEmptyFullTaskDonePeekAndSnapshot() {
    for (byte op : new byte[] {ManagerProtocol.QSIZE, ManagerProtocol.EMPTY_Q, ManagerProtocol.FULL_Q,
        ManagerProtocol.TASK_DONE, ManagerProtocol.PEEK}) {
      roundTrip(new QueueOnly(op, QUEUE), ByteBuffer.allocate(8).putLong(QUEUE).array());
    }
    roundTrip(new ManagerProtocol.Snapshot(QUEUE, 3), ByteBuffer.allocate(12).putLong(QUEUE).putInt(3).array());
  }

  @Test
  void drain() {
    roundTrip(new Drain(QUEUE, Integer.MAX_VALUE),
        ByteBuffer.allocate(12).putLong(QUEUE).putInt(Integer.MAX_VALUE).array());
  }

  @Test
  void cancel() {
    roundTrip(new Cancel(ID + 1), ByteBuffer.allocate(8).putLong(ID + 1).array());
  }

  @Test
  void pingAndShutdown() {
    roundTrip(new NoFields(ManagerProtocol.PING), new byte[0]);
    roundTrip(new NoFields(ManagerProtocol.SHUTDOWN), new byte[0]);
  }

  /** Every op, in the order of the table (op codes 1 to 19). */
  private static List<Request> oneOfEach() {
    return List.of(new Open(true, true, 5, "abc"), new Put(QUEUE, 1, new byte[0]),
        new QueueAndTimeout(ManagerProtocol.GET, QUEUE, 1), new QueueOnly(ManagerProtocol.QSIZE, QUEUE),
        new QueueOnly(ManagerProtocol.EMPTY_Q, QUEUE), new QueueOnly(ManagerProtocol.FULL_Q, QUEUE),
        new QueueOnly(ManagerProtocol.TASK_DONE, QUEUE), new QueueAndTimeout(ManagerProtocol.JOIN, QUEUE, 1),
        new QueueOnly(ManagerProtocol.PEEK, QUEUE), new Drain(QUEUE, 1), new ManagerProtocol.Snapshot(QUEUE, 0),
        new Cancel(3), new NoFields(ManagerProtocol.PING), new NoFields(ManagerProtocol.SHUTDOWN),
        new ManagerProtocol.Ref(ManagerProtocol.RETAIN, QUEUE), new ManagerProtocol.Ref(ManagerProtocol.RELEASE, QUEUE),
        new ManagerProtocol.Pin(QUEUE, 1000), new ManagerProtocol.Delete("abc"), new NoFields(ManagerProtocol.STATS));
  }

  @Test
  void opCodesAreTheTable() {
    List<Request> all = oneOfEach();
    for (int i = 0; i < all.size(); i++) {
      assertEquals(i + 1, all.get(i).op(), all.get(i).toString());
    }
  }

  @Test
  void aSharedLayoutTakesOnlyItsOps() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> new QueueOnly(ManagerProtocol.GET, QUEUE));
    assertEquals("GET does not have this layout", e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> new QueueAndTimeout(ManagerProtocol.PEEK, QUEUE, 0));
    assertThrows(IllegalArgumentException.class, () -> new NoFields(ManagerProtocol.OPEN));
  }

  // ------------------------------------------------------------------ malformed requests

  private static MalformedMessageException malformed(Executable decode, String expected) {
    MalformedMessageException e = assertThrows(MalformedMessageException.class, decode);
    assertTrue(e.getMessage().contains(expected), "'" + e.getMessage() + "' should mention '" + expected + "'");
    return e;
  }

  /** (PUT's item is the rest of the message, so a cut item is just a shorter item: the test's PUT has none.) */
  @Test
  void everyTruncationOfEveryRequestIsRejected() {
    for (Request r : oneOfEach()) {
      byte[] wire = bytes(r.encode(ID));
      for (int n = 0; n < wire.length; n++) {
        ByteBuffer cut = ByteBuffer.wrap(Arrays.copyOf(wire, n));
        if (n < ManagerProtocol.REQUEST_HEADER_BYTES) {
          MalformedMessageException e =
              malformed(() -> ManagerProtocol.decodeRequest(cut), "shorter than the request header");
          assertFalse(e.hasRequestId(), "a cut header has no id to answer");
        } else {
          MalformedMessageException e = malformed(() -> ManagerProtocol.decodeRequest(cut), "truncated");
          assertTrue(e.hasRequestId());
          assertEquals(ID, e.requestId());
          assertTrue(e.getMessage().startsWith(ManagerProtocol.opName(r.op()) + " request"), e.getMessage());
        }
      }
    }
  }

  @Test
  void truncationNamesTheMissingField() {
    ByteBuffer get = ByteBuffer.allocate(9 + 12).put(ManagerProtocol.GET).putLong(ID).putLong(QUEUE).putInt(0).flip();
    malformed(() -> ManagerProtocol.decodeRequest(get), "GET request: truncated: timeoutNanos needs 8 bytes, 4 left");
    ByteBuffer open = ByteBuffer.allocate(9 + 7 + 2).put(ManagerProtocol.OPEN).putLong(ID).put((byte) 1).putInt(0)
        .putShort((short) 5).put(new byte[] {'a', 'b'}).flip();
    malformed(() -> ManagerProtocol.decodeRequest(open), "OPEN request: truncated: name needs 5 bytes, 2 left");
  }

  @Test
  void bytesAfterTheLastFieldAreRejected() {
    ByteBuffer longer = ByteBuffer.allocate(9 + 9).put(ManagerProtocol.QSIZE).putLong(ID).putLong(QUEUE).put((byte) 0)
        .flip();
    malformed(() -> ManagerProtocol.decodeRequest(longer), "QSIZE request: 1 unexpected bytes after the last field");
    ByteBuffer ping = ByteBuffer.allocate(9 + 3).put(ManagerProtocol.PING).putLong(ID).put(new byte[3]).flip();
    assertEquals(ID, malformed(() -> ManagerProtocol.decodeRequest(ping), "3 unexpected bytes").requestId());
  }

  @Test
  void unknownOpIsRejectedWithItsId() {
    ByteBuffer m = ByteBuffer.allocate(9).put((byte) 99).putLong(7).flip();
    MalformedMessageException e = malformed(() -> ManagerProtocol.decodeRequest(m), "unknown op 99");
    assertTrue(e.hasRequestId());
    assertEquals(7, e.requestId());
  }

  @Test
  void openWithUnknownFlagsOrANameThatIsNotUtf8IsRejected() {
    ByteBuffer flags = ByteBuffer.allocate(9 + 7).put(ManagerProtocol.OPEN).putLong(ID).put((byte) 5).putInt(0)
        .putShort((short) 0).flip();
    malformed(() -> ManagerProtocol.decodeRequest(flags), "OPEN request: unknown flags 0x5");
    ByteBuffer name = ByteBuffer.allocate(9 + 9).put(ManagerProtocol.OPEN).putLong(ID).put((byte) 1).putInt(0)
        .putShort((short) 2).put(new byte[] {(byte) 0xc3, (byte) 0x28}).flip();
    malformed(() -> ManagerProtocol.decodeRequest(name), "name is not valid UTF-8");
  }

  // ------------------------------------------------------------------ answers

  @Test
  void answer() {
    byte[] wire = bytes(ManagerProtocol.encodeAnswer(ID, ManagerProtocol.OK, new byte[] {1, 2}));
    assertArrayEquals(ByteBuffer.allocate(11).putLong(ID).put((byte) 0).put(new byte[] {1, 2}).array(), wire);
    assertAnswer(ManagerProtocol.OK, new byte[] {1, 2}, ManagerProtocol.decodeAnswer(ByteBuffer.wrap(wire)));
    assertAnswer(ManagerProtocol.FULL, new byte[0],
        ManagerProtocol.decodeAnswer(ManagerProtocol.encodeAnswer(ID, ManagerProtocol.FULL)));
  }

  @Test
  void answerWithAMessage() {
    Answer a = ManagerProtocol.decodeAnswer(ManagerProtocol.encodeAnswer(ID, ManagerProtocol.ERROR, "kaputt: ü"));
    assertAnswer(ManagerProtocol.ERROR, "kaputt: ü".getBytes(StandardCharsets.UTF_8), a);
    assertEquals("kaputt: ü", a.message());
  }

  private static void assertAnswer(byte status, byte[] payload, Answer actual) {
    assertEquals(ID, actual.requestId());
    assertEquals(status, actual.status());
    assertArrayEquals(payload, actual.payload());
  }

  @Test
  void malformedAnswersAreRejected() {
    for (int n = 0; n < ManagerProtocol.ANSWER_HEADER_BYTES; n++) {
      ByteBuffer cut = ByteBuffer.wrap(new byte[n]);
      malformed(() -> ManagerProtocol.decodeAnswer(cut), "shorter than the answer header");
    }
    ByteBuffer status = ByteBuffer.allocate(9).putLong(ID).put((byte) 8).flip();
    malformed(() -> ManagerProtocol.decodeAnswer(status), "unknown status 8");
  }

  @Test
  void openedPayload() {
    byte[] p = new Opened(42, 10).encode();
    assertArrayEquals(ByteBuffer.allocate(12).putLong(42).putInt(10).array(), p);
    assertEquals(new Opened(42, 10), Opened.decode(p));
    malformed(() -> Opened.decode(Arrays.copyOf(p, 10)), "OPEN: truncated: maxsize needs 4 bytes, 2 left");
    malformed(() -> Opened.decode(Arrays.copyOf(p, 13)), "1 unexpected bytes");
  }

  @Test
  void sizePayload() {
    byte[] p = ManagerProtocol.encodeSize(123456);
    assertArrayEquals(ByteBuffer.allocate(4).putInt(123456).array(), p);
    assertEquals(123456, ManagerProtocol.decodeSize(p));
    malformed(() -> ManagerProtocol.decodeSize(new byte[3]), "QSIZE: truncated: size needs 4 bytes, 3 left");
  }

  @Test
  void flagPayload() {
    assertArrayEquals(new byte[] {1}, ManagerProtocol.encodeFlag(true));
    assertArrayEquals(new byte[] {0}, ManagerProtocol.encodeFlag(false));
    assertTrue(ManagerProtocol.decodeFlag(ManagerProtocol.encodeFlag(true)));
    assertFalse(ManagerProtocol.decodeFlag(ManagerProtocol.encodeFlag(false)));
    malformed(() -> ManagerProtocol.decodeFlag(new byte[0]), "truncated: value needs 1 bytes, 0 left");
    malformed(() -> ManagerProtocol.decodeFlag(new byte[] {2}), "value 2 is neither 0 nor 1");
  }

  @Test
  void itemsPayload() {
    List<byte[]> items = List.of(new byte[] {1, 2, 3}, new byte[0], new byte[] {4});
    byte[] p = ManagerProtocol.encodeItems(items);
    assertArrayEquals(ByteBuffer.allocate(4 + 7 + 4 + 5).putInt(3).putInt(3).put(new byte[] {1, 2, 3}).putInt(0)
        .putInt(1).put((byte) 4).array(), p);
    List<byte[]> back = ManagerProtocol.decodeItems(p);
    assertEquals(items.size(), back.size());
    for (int i = 0; i < items.size(); i++) {
      assertArrayEquals(items.get(i), back.get(i));
    }
    assertEquals(ManagerProtocol.ITEMS_HEADER_BYTES + items.stream().mapToInt(ManagerProtocol::itemEntryBytes).sum(),
        p.length);
    assertTrue(ManagerProtocol.decodeItems(ManagerProtocol.encodeItems(List.of())).isEmpty());
  }

  @Test
  void malformedItemsPayloadsAreRejected() {
    byte[] p = ManagerProtocol.encodeItems(List.of(new byte[] {1, 2, 3}, new byte[] {4}));
    for (int n = 0; n < p.length; n++) {
      byte[] cut = Arrays.copyOf(p, n);
      malformed(() -> ManagerProtocol.decodeItems(cut), "DRAIN/SNAPSHOT");
    }
    malformed(() -> ManagerProtocol.decodeItems(ByteBuffer.allocate(4).putInt(-1).array()),
        "item count -1 does not fit");
    malformed(() -> ManagerProtocol.decodeItems(ByteBuffer.allocate(4).putInt(Integer.MAX_VALUE).array()),
        "does not fit in 0 bytes");
    malformed(() -> ManagerProtocol.decodeItems(ByteBuffer.allocate(8).putInt(1).putInt(-5).array()),
        "item 0 has a negative length -5");
    malformed(() -> ManagerProtocol.decodeItems(ByteBuffer.allocate(9).putInt(1).putInt(9).put((byte) 1).array()),
        "truncated: item 0 needs 9 bytes, 1 left");
  }

  private static byte[] bytes(ByteBuffer b) {
    byte[] out = new byte[b.remaining()];
    b.duplicate().get(out);
    return out;
  }
}
