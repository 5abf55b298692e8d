package io.procpool.manager.internal;

import io.procpool.api.ProcPoolException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The manager's wire protocol, carried in the messages of any procpool transport (which already
 * frames, authenticates and orders them). All integers are big-endian.
 *
 * <p><b>Request</b> (client to manager): {@code u8 op, i64 requestId}, then the op's fields. Request
 * ids are chosen by the client, unique per connection, so one connection carries many concurrent
 * calls (blocked {@code get}s of several threads) and answers may come in any order.
 *
 * <table>
 *   <caption>ops</caption>
 *   <tr><th>op</th><th>fields after the id</th><th>OK answer payload</th></tr>
 *   <tr><td>1 OPEN</td><td>{@code u8 flags (1: named, 2: maxsize given), i32 maxsize, u16 nameLength,
 *       name (UTF-8)}</td><td>{@code i64 queueId, i32 maxsize}</td></tr>
 *   <tr><td>2 PUT</td><td>{@code i64 queueId, i64 timeoutNanos, item bytes (rest)}</td><td>-</td></tr>
 *   <tr><td>3 GET</td><td>{@code i64 queueId, i64 timeoutNanos}</td><td>item bytes (rest)</td></tr>
 *   <tr><td>4 QSIZE</td><td>{@code i64 queueId}</td><td>{@code i32 size}</td></tr>
 *   <tr><td>5 EMPTY</td><td>{@code i64 queueId}</td><td>{@code u8 0|1}</td></tr>
 *   <tr><td>6 FULL</td><td>{@code i64 queueId}</td><td>{@code u8 0|1}</td></tr>
 *   <tr><td>7 TASK_DONE</td><td>{@code i64 queueId}</td><td>-</td></tr>
 *   <tr><td>8 JOIN</td><td>{@code i64 queueId, i64 timeoutNanos}</td><td>-</td></tr>
 *   <tr><td>9 PEEK</td><td>{@code i64 queueId}</td><td>item bytes (rest)</td></tr>
 *   <tr><td>10 DRAIN</td><td>{@code i64 queueId, i32 maxItems}</td><td>{@code i32 n, n × (i32 len,
 *       bytes)}</td></tr>
 *   <tr><td>11 SNAPSHOT</td><td>{@code i64 queueId, i32 from}</td><td>{@code i32 size}, then as DRAIN:
 *       the items from index {@code from} on that fit in one message (at least one if any), items
 *       stay; {@code size} is the queue's size, so the client asks again from {@code from + n}
 *       until it has them all</td></tr>
 *   <tr><td>12 CANCEL</td><td>{@code i64 targetRequestId}</td><td>no answer of its own: the target
 *       is answered CANCELLED if it was still waiting</td></tr>
 *   <tr><td>13 PING</td><td>-</td><td>-</td></tr>
 *   <tr><td>14 SHUTDOWN</td><td>-</td><td>- (then the manager exits)</td></tr>
 *   <tr><td>15 RETAIN</td><td>{@code i64 queueId}</td><td>no answer: this connection holds one more
 *       reference to the queue (a proxy was deserialized); ignored if the queue is gone</td></tr>
 *   <tr><td>16 RELEASE</td><td>{@code i64 queueId}</td><td>no answer: this connection drops one of its
 *       references (a proxy was closed or garbage-collected); ignored if it holds none</td></tr>
 *   <tr><td>17 PIN</td><td>{@code i64 queueId, i64 millis}</td><td>no answer: a proxy of the queue was
 *       serialized; the queue is not freed for lack of references within {@code millis}</td></tr>
 *   <tr><td>18 DELETE</td><td>{@code u16 nameLength, name}</td><td>- (or NO_SUCH_QUEUE)</td></tr>
 *   <tr><td>19 STATS</td><td>-</td><td>{@code i32 queues, i64 items, i64 itemBytes}</td></tr>
 * </table>
 *
 * <p><b>Queue lifetime.</b> The manager counts references per connection: OPEN gives the opening
 * connection one, RETAIN one more, RELEASE takes one back, and the end of a connection takes back all
 * of its references. An anonymous queue is freed (its items dropped, its waiting calls answered
 * NO_SUCH_QUEUE) once it has no reference and its last PIN has expired; a RETAIN before that keeps it.
 * A named queue lives until DELETE. RETAIN, RELEASE and PIN are sent with request id 0 and never
 * answered, so a client can send them from any thread without waiting.
 *
 * <p><b>Unknown ops</b> are answered with ERROR naming the op code (the connection stays open:
 * the request id could be read, so the rest of the stream is still framed correctly).
 *
 * <p>{@code timeoutNanos}: {@code -1} waits without limit, {@code 0} does not wait (the "nowait"
 * variants), a positive value waits at most that long on the manager's clock.
 *
 * <p><b>Answer</b> (manager to client): {@code i64 requestId, u8 status}, then the payload. Status
 * is one of {@link #OK}, {@link #EMPTY}, {@link #FULL}, {@link #ILLEGAL_STATE} (too many
 * {@code task_done}), {@link #CANCELLED}, {@link #NO_SUCH_QUEUE}, {@link #ILLEGAL_ARGUMENT} and
 * {@link #ERROR}; for the last three the payload is a UTF-8 message.
 *
 * <p>Items are opaque byte strings, encoded and decoded by the clients; the manager never decodes
 * them.
 *
 * <p><b>Code.</b> Each layout of the table's requests is a {@link Request} record below with its
 * one encoder ({@code encode(requestId)}) and its one decoder ({@code decode}, reached through
 * {@link #decodeRequest}); answers are encoded by {@link #encodeAnswer} and decoded by
 * {@link #decodeAnswer}, their OK payloads by the {@code encode…}/{@code decode…} pair of their
 * column. Decoders read exactly the grammar: a message that is truncated, has bytes left over, or
 * holds an unknown op, status or flag throws {@link MalformedMessageException}.
 */
public final class ManagerProtocol {
  private ManagerProtocol() {}

  /** Bumped on any incompatible change; not negotiated yet (manager and clients ship together). */
  static final int VERSION = 2;

  static final byte OPEN = 1;
  static final byte PUT = 2;
  static final byte GET = 3;
  static final byte QSIZE = 4;
  static final byte EMPTY_Q = 5;
  static final byte FULL_Q = 6;
  static final byte TASK_DONE = 7;
  static final byte JOIN = 8;
  static final byte PEEK = 9;
  static final byte DRAIN = 10;
  static final byte SNAPSHOT = 11;
  static final byte CANCEL = 12;
  static final byte PING = 13;
  static final byte SHUTDOWN = 14;
  static final byte RETAIN = 15;
  static final byte RELEASE = 16;
  static final byte PIN = 17;
  static final byte DELETE = 18;
  static final byte STATS = 19;
  /** The highest op this version knows. */
  static final byte LAST_OP = STATS;

  static final byte OK = 0;
  static final byte EMPTY = 1;
  static final byte FULL = 2;
  static final byte ILLEGAL_STATE = 3;
  static final byte CANCELLED = 4;
  static final byte NO_SUCH_QUEUE = 5;
  static final byte ILLEGAL_ARGUMENT = 6;
  static final byte ERROR = 7;

  private static final int FLAG_NAMED = 1;
  private static final int FLAG_MAXSIZE_GIVEN = 2;

  /** {@code timeoutNanos} meaning "wait without limit". */
  static final long FOREVER = -1;

  /** Request header: {@code u8 op, i64 requestId}. */
  static final int REQUEST_HEADER_BYTES = 9;
  /** Answer header: {@code i64 requestId, u8 status}. */
  static final int ANSWER_HEADER_BYTES = 9;
  /** The largest name OPEN can carry (its length is a u16). */
  static final int MAX_NAME_BYTES = 0xffff;

  /** What a PUT request adds to its item: the header and {@code i64 queueId, i64 timeoutNanos}. */
  static final int PUT_OVERHEAD_BYTES = REQUEST_HEADER_BYTES + 16;
  /**
   * What the largest answer of one item adds to it: a SNAPSHOT page's header and
   * {@code i32 size, i32 n, i32 len} (a DRAIN's lacks the size).
   */
  static final int ONE_ITEM_ANSWER_OVERHEAD_BYTES = ANSWER_HEADER_BYTES + 12;

  /**
   * The largest encoded item a client may put when messages are at most {@code maxFrameSize} bytes:
   * small enough for its PUT request and for every answer that carries it alone (GET, PEEK, and a
   * DRAIN or SNAPSHOT batch of one), so that every item put can be read back by every op.
   */
  static int maxItemBytes(int maxFrameSize) {
    return maxFrameSize - Math.max(PUT_OVERHEAD_BYTES, ONE_ITEM_ANSWER_OVERHEAD_BYTES);
  }

  /** The payload of answers that carry none. */
  static final byte[] NO_PAYLOAD = new byte[0];

  // ------------------------------------------------------------------ requests

  /**
   * A request body (the fields after the id). There is one record per layout of the table: a layout
   * that several ops share (GET and JOIN, the six queue-id-only ops, PING and SHUTDOWN) is one record
   * that carries its op.
   */
  sealed interface Request {
    byte op();

    /** The request's own wait as sent, {@link ManagerProtocol#FOREVER} for none; 0 for requests that never wait. */
    default long timeoutNanos() {
      return 0;
    }

    /** The whole request message: header with {@code requestId}, then this body. */
    ByteBuffer encode(long requestId);
  }

  /** A request addressed to one queue. */
  sealed interface QueueRequest extends Request {
    long queueId();
  }

  /** A decoded request message. */
  record DecodedRequest(long requestId, Request request) {}

  /**
   * The one decoder of requests: reads the header, hands the body to the decoder of the op's layout
   * and checks that nothing is left over.
   */
  static DecodedRequest decodeRequest(ByteBuffer message) {
    requireHeader(message, "request", REQUEST_HEADER_BYTES, "op, request id");
    byte op = message.get();
    long requestId = message.getLong();
    FieldReader in = new FieldReader(message, requestId, opName(op) + " request");
    Request r = decodeBody(op, in);
    in.end();
    return new DecodedRequest(requestId, r);
  }

  private static Request decodeBody(byte op, FieldReader in) {
    switch (op) {
      case OPEN:
        return Open.decode(in);
      case PUT:
        return Put.decode(in);
      case GET:
      case JOIN:
        return QueueAndTimeout.decode(op, in);
      case QSIZE:
      case EMPTY_Q:
      case FULL_Q:
      case TASK_DONE:
      case PEEK:
        return QueueOnly.decode(op, in);
      case SNAPSHOT:
        return Snapshot.decode(in);
      case DRAIN:
        return Drain.decode(in);
      case CANCEL:
        return Cancel.decode(in);
      case PING:
      case SHUTDOWN:
      case STATS:
        return new NoFields(op);
      case RETAIN:
      case RELEASE:
        return Ref.decode(op, in);
      case PIN:
        return Pin.decode(in);
      case DELETE:
        return Delete.decode(in);
      default:
        throw new MalformedMessageException("unknown op " + (op & 0xff) + " (this manager speaks protocol version "
            + VERSION + ", ops 1 to " + LAST_OP + "); was the client built for another procpool version?",
            in.requestId());
    }
  }

  /** OPEN: {@code u8 flags, i32 maxsize, u16 nameLength, name}. */
  record Open(boolean named, boolean maxsizeGiven, int maxsize, String name) implements Request {
    Open {
      if (name.getBytes(StandardCharsets.UTF_8).length > MAX_NAME_BYTES) {
        throw new IllegalArgumentException("a queue name must be at most " + MAX_NAME_BYTES + " UTF-8 bytes");
      }
    }

    @Override
    public byte op() {
      return OPEN;
    }

    @Override
    public ByteBuffer encode(long requestId) {
      byte[] n = name.getBytes(StandardCharsets.UTF_8);
      int flags = (named ? FLAG_NAMED : 0) | (maxsizeGiven ? FLAG_MAXSIZE_GIVEN : 0);
      return header(OPEN, requestId, 7 + n.length).put((byte) flags).putInt(maxsize).putShort((short) n.length)
          .put(n).flip();
    }

    static Open decode(FieldReader in) {
      int flags = in.u8("flags");
      if ((flags & ~(FLAG_NAMED | FLAG_MAXSIZE_GIVEN)) != 0) {
        throw in.malformed("unknown flags 0x" + Integer.toHexString(flags));
      }
      int maxsize = in.i32("maxsize");
      String name = in.utf8(in.u16("nameLength"), "name");
      return new Open((flags & FLAG_NAMED) != 0, (flags & FLAG_MAXSIZE_GIVEN) != 0, maxsize, name);
    }
  }

  /** PUT: {@code i64 queueId, i64 timeoutNanos, item (rest)}. */
  record Put(long queueId, long timeoutNanos, byte[] item) implements QueueRequest {
    @Override
    public byte op() {
      return PUT;
    }

    @Override
    public ByteBuffer encode(long requestId) {
      return header(PUT, requestId, 16 + item.length).putLong(queueId).putLong(timeoutNanos).put(item).flip();
    }

    static Put decode(FieldReader in) {
      return new Put(in.i64("queueId"), in.i64("timeoutNanos"), in.rest());
    }
  }

  /** GET and JOIN: {@code i64 queueId, i64 timeoutNanos}. */
  record QueueAndTimeout(byte op, long queueId, long timeoutNanos) implements QueueRequest {
    QueueAndTimeout {
      requireOp(op, GET, JOIN);
    }

    @Override
    public ByteBuffer encode(long requestId) {
      return header(op, requestId, 16).putLong(queueId).putLong(timeoutNanos).flip();
    }

    static QueueAndTimeout decode(byte op, FieldReader in) {
      return new QueueAndTimeout(op, in.i64("queueId"), in.i64("timeoutNanos"));
    }
  }

  /** QSIZE, EMPTY, FULL, TASK_DONE and PEEK: {@code i64 queueId}. */
  record QueueOnly(byte op, long queueId) implements QueueRequest {
    QueueOnly {
      requireOp(op, QSIZE, EMPTY_Q, FULL_Q, TASK_DONE, PEEK);
    }

    @Override
    public ByteBuffer encode(long requestId) {
      return header(op, requestId, 8).putLong(queueId).flip();
    }

    static QueueOnly decode(byte op, FieldReader in) {
      return new QueueOnly(op, in.i64("queueId"));
    }
  }

  /** DRAIN: {@code i64 queueId, i32 maxItems}. */
  record Drain(long queueId, int maxItems) implements QueueRequest {
    @Override
    public byte op() {
      return DRAIN;
    }

    @Override
    public ByteBuffer encode(long requestId) {
      return header(DRAIN, requestId, 12).putLong(queueId).putInt(maxItems).flip();
    }

    static Drain decode(FieldReader in) {
      return new Drain(in.i64("queueId"), in.i32("maxItems"));
    }
  }

  /** SNAPSHOT: {@code i64 queueId, i32 from}. */
  record Snapshot(long queueId, int from) implements QueueRequest {
    @Override
    public byte op() {
      return SNAPSHOT;
    }

    @Override
    public ByteBuffer encode(long requestId) {
      return header(SNAPSHOT, requestId, 12).putLong(queueId).putInt(from).flip();
    }

    static Snapshot decode(FieldReader in) {
      return new Snapshot(in.i64("queueId"), in.i32("from"));
    }
  }

  /** CANCEL: {@code i64 targetRequestId}. Clients send it with request id 0; it is not answered. */
  record Cancel(long targetRequestId) implements Request {
    @Override
    public byte op() {
      return CANCEL;
    }

    @Override
    public ByteBuffer encode(long requestId) {
      return header(CANCEL, requestId, 8).putLong(targetRequestId).flip();
    }

    static Cancel decode(FieldReader in) {
      return new Cancel(in.i64("targetRequestId"));
    }
  }

  /** RETAIN and RELEASE: {@code i64 queueId}. Sent with request id 0, never answered. */
  record Ref(byte op, long queueId) implements Request {
    Ref {
      requireOp(op, RETAIN, RELEASE);
    }

    @Override
    public ByteBuffer encode(long requestId) {
      return header(op, requestId, 8).putLong(queueId).flip();
    }

    static Ref decode(byte op, FieldReader in) {
      return new Ref(op, in.i64("queueId"));
    }
  }

  /** PIN: {@code i64 queueId, i64 millis}. Sent with request id 0, never answered. */
  record Pin(long queueId, long millis) implements Request {
    @Override
    public byte op() {
      return PIN;
    }

    @Override
    public ByteBuffer encode(long requestId) {
      return header(PIN, requestId, 16).putLong(queueId).putLong(millis).flip();
    }

    static Pin decode(FieldReader in) {
      return new Pin(in.i64("queueId"), in.i64("millis"));
    }
  }

  /** DELETE: {@code u16 nameLength, name}. */
  record Delete(String name) implements Request {
    Delete {
      if (name.getBytes(StandardCharsets.UTF_8).length > MAX_NAME_BYTES) {
        throw new IllegalArgumentException("a queue name must be at most " + MAX_NAME_BYTES + " UTF-8 bytes");
      }
    }

    @Override
    public byte op() {
      return DELETE;
    }

    @Override
    public ByteBuffer encode(long requestId) {
      byte[] n = name.getBytes(StandardCharsets.UTF_8);
      return header(DELETE, requestId, 2 + n.length).putShort((short) n.length).put(n).flip();
    }

    static Delete decode(FieldReader in) {
      return new Delete(in.utf8(in.u16("nameLength"), "name"));
    }
  }

  /** PING, SHUTDOWN and STATS: no fields (so nothing to decode). */
  record NoFields(byte op) implements Request {
    NoFields {
      requireOp(op, PING, SHUTDOWN, STATS);
    }

    @Override
    public ByteBuffer encode(long requestId) {
      return header(op, requestId, 0).flip();
    }
  }

  /** A request header with room for {@code body} more bytes; the caller fills and flips it. */
  private static ByteBuffer header(byte op, long requestId, int body) {
    return ByteBuffer.allocate(REQUEST_HEADER_BYTES + body).put(op).putLong(requestId);
  }

  /** Checks that a record of a shared layout is made for one of the ops of that layout. */
  private static void requireOp(byte op, byte... ops) {
    for (byte o : ops) {
      if (o == op) {
        return;
      }
    }
    throw new IllegalArgumentException(opName(op) + " does not have this layout");
  }

  static String opName(byte op) {
    switch (op) {
      case OPEN: return "OPEN";
      case PUT: return "PUT";
      case GET: return "GET";
      case QSIZE: return "QSIZE";
      case EMPTY_Q: return "EMPTY";
      case FULL_Q: return "FULL";
      case TASK_DONE: return "TASK_DONE";
      case JOIN: return "JOIN";
      case PEEK: return "PEEK";
      case DRAIN: return "DRAIN";
      case SNAPSHOT: return "SNAPSHOT";
      case CANCEL: return "CANCEL";
      case PING: return "PING";
      case SHUTDOWN: return "SHUTDOWN";
      case RETAIN: return "RETAIN";
      case RELEASE: return "RELEASE";
      case PIN: return "PIN";
      case DELETE: return "DELETE";
      case STATS: return "STATS";
      default: return "op " + (op & 0xff);
    }
  }

  // ------------------------------------------------------------------ answers

  /** A decoded answer: the id of the request it answers, its status and its payload. */
  record Answer(long requestId, byte status, byte[] payload) {
    /** The payload as the message of an error status. */
    String message() {
      return new String(payload, StandardCharsets.UTF_8);
    }
  }

  /** The one encoder of answers: {@code i64 requestId, u8 status, payload}. */
  static ByteBuffer encodeAnswer(long requestId, byte status, byte[] payload) {
    return ByteBuffer.allocate(ANSWER_HEADER_BYTES + payload.length).putLong(requestId).put(status).put(payload)
        .flip();
  }

  /** An answer without payload. */
  static ByteBuffer encodeAnswer(long requestId, byte status) {
    return encodeAnswer(requestId, status, NO_PAYLOAD);
  }

  /** An answer carrying a message (for the error statuses). */
  static ByteBuffer encodeAnswer(long requestId, byte status, String message) {
    return encodeAnswer(requestId, status, message.getBytes(StandardCharsets.UTF_8));
  }

  /** The one decoder of answers. */
  static Answer decodeAnswer(ByteBuffer message) {
    requireHeader(message, "answer", ANSWER_HEADER_BYTES, "request id, status");
    long requestId = message.getLong();
    byte status = message.get();
    if (status < OK || status > ERROR) {
      throw new MalformedMessageException("answer to request " + requestId + ": unknown status " + status,
          requestId);
    }
    return new Answer(requestId, status, new FieldReader(message, requestId, "answer").rest());
  }

  static String statusName(byte status) {
    switch (status) {
      case OK: return "OK";
      case EMPTY: return "EMPTY";
      case FULL: return "FULL";
      case ILLEGAL_STATE: return "ILLEGAL_STATE";
      case CANCELLED: return "CANCELLED";
      case NO_SUCH_QUEUE: return "NO_SUCH_QUEUE";
      case ILLEGAL_ARGUMENT: return "ILLEGAL_ARGUMENT";
      case ERROR: return "ERROR";
      default: return "status " + status;
    }
  }

  // ------------------------------------------------------------------ OK answer payloads

  /** The OK payload of OPEN: {@code i64 queueId, i32 maxsize}. */
  record Opened(long queueId, int maxsize) {
    byte[] encode() {
      return ByteBuffer.allocate(12).putLong(queueId).putInt(maxsize).array();
    }

    static Opened decode(byte[] payload) {
      FieldReader in = FieldReader.payload(payload, "OPEN");
      Opened o = new Opened(in.i64("queueId"), in.i32("maxsize"));
      in.end();
      return o;
    }
  }

  /** The OK payload of STATS: {@code i32 queues, i64 items, i64 itemBytes}. */
  record Stats(int queues, long items, long itemBytes) {
    byte[] encode() {
      return ByteBuffer.allocate(20).putInt(queues).putLong(items).putLong(itemBytes).array();
    }

    static Stats decode(byte[] payload) {
      FieldReader in = FieldReader.payload(payload, "STATS");
      Stats s = new Stats(in.i32("queues"), in.i64("items"), in.i64("itemBytes"));
      in.end();
      return s;
    }
  }

  /** The OK payload of QSIZE: {@code i32 size}. */
  static byte[] encodeSize(int size) {
    return ByteBuffer.allocate(4).putInt(size).array();
  }

  static int decodeSize(byte[] payload) {
    FieldReader in = FieldReader.payload(payload, "QSIZE");
    int size = in.i32("size");
    in.end();
    return size;
  }

  /** The OK payload of EMPTY and FULL: {@code u8 0|1}. */
  static byte[] encodeFlag(boolean value) {
    return new byte[] {(byte) (value ? 1 : 0)};
  }

  static boolean decodeFlag(byte[] payload) {
    FieldReader in = FieldReader.payload(payload, "EMPTY/FULL");
    int v = in.u8("value");
    in.end();
    if (v > 1) {
      throw in.malformed("value " + v + " is neither 0 nor 1");
    }
    return v == 1;
  }

  /** What the list header of a DRAIN or SNAPSHOT payload takes ({@code i32 n}). */
  static final int ITEMS_HEADER_BYTES = 4;

  /** What one item takes in a DRAIN or SNAPSHOT payload ({@code i32 len, bytes}). */
  static int itemEntryBytes(byte[] item) {
    return 4 + item.length;
  }

  /** The OK payload of DRAIN and SNAPSHOT: {@code i32 n, n × (i32 len, bytes)}. */
  static byte[] encodeItems(List<byte[]> items) {
    int size = ITEMS_HEADER_BYTES;
    for (byte[] item : items) {
      size += itemEntryBytes(item);
    }
    ByteBuffer b = ByteBuffer.allocate(size).putInt(items.size());
    for (byte[] item : items) {
      b.putInt(item.length).put(item);
    }
    return b.array();
  }

  /** One page of a snapshot: the queue's size then, and items from the requested index. */
  record SnapshotPage(int size, List<byte[]> items) {}

  /** The OK payload of SNAPSHOT: {@code i32 size}, then as DRAIN's. */
  static byte[] encodeSnapshotPage(int size, List<byte[]> items) {
    byte[] list = encodeItems(items);
    return ByteBuffer.allocate(4 + list.length).putInt(size).put(list).array();
  }

  static SnapshotPage decodeSnapshotPage(byte[] payload) {
    if (payload.length < 4) {
      throw new MalformedMessageException("OK answer payload of SNAPSHOT: truncated: size needs 4 bytes, "
          + payload.length + " left", 0);
    }
    int size = ByteBuffer.wrap(payload).getInt();
    return new SnapshotPage(size, decodeItems(java.util.Arrays.copyOfRange(payload, 4, payload.length)));
  }

  static List<byte[]> decodeItems(byte[] payload) {
    FieldReader in = FieldReader.payload(payload, "DRAIN/SNAPSHOT");
    int n = in.i32("n");
    if (n < 0 || n > in.remaining() / 4) {
      throw in.malformed("item count " + n + " does not fit in " + in.remaining() + " bytes");
    }
    List<byte[]> items = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      items.add(in.bytes(in.i32("length of item " + i), "item " + i));
    }
    in.end();
    return items;
  }

  // ------------------------------------------------------------------ reading

  /** A message too short for its header has no request id to answer. */
  private static void requireHeader(ByteBuffer message, String kind, int headerBytes, String fields) {
    if (message.remaining() < headerBytes) {
      throw new MalformedMessageException(kind + " of " + message.remaining() + " bytes is shorter than the " + kind
          + " header (" + headerBytes + " bytes: " + fields + ")");
    }
  }

  /** A message that does not follow the grammar above. */
  static final class MalformedMessageException extends ProcPoolException {
    private static final long serialVersionUID = 1L;

    private final long requestId;
    private final boolean hasRequestId;

    /** The header itself was unreadable: there is no request id to answer. */
    MalformedMessageException(String message) {
      super(message);
      this.requestId = 0;
      this.hasRequestId = false;
    }

    MalformedMessageException(String message, long requestId) {
      super(message);
      this.requestId = requestId;
      this.hasRequestId = true;
    }

    /** Whether the message's request id could be read (then the request can be answered). */
    boolean hasRequestId() {
      return hasRequestId;
    }

    long requestId() {
      return requestId;
    }
  }

  /** Reads the fields of one message, naming the field and the message when one is missing. */
  private record FieldReader(ByteBuffer b, long requestId, String what) {
    static FieldReader payload(byte[] payload, String op) {
      return new FieldReader(ByteBuffer.wrap(payload), 0, "OK answer payload of " + op);
    }

    MalformedMessageException malformed(String problem) {
      return new MalformedMessageException(what + ": " + problem, requestId);
    }

    private void need(int n, String field) {
      if (b.remaining() < n) {
        throw malformed("truncated: " + field + " needs " + n + " bytes, " + b.remaining() + " left");
      }
    }

    int remaining() {
      return b.remaining();
    }

    int u8(String field) {
      need(1, field);
      return b.get() & 0xff;
    }

    int u16(String field) {
      need(2, field);
      return b.getShort() & 0xffff;
    }

    int i32(String field) {
      need(4, field);
      return b.getInt();
    }

    long i64(String field) {
      need(8, field);
      return b.getLong();
    }

    byte[] bytes(int n, String field) {
      if (n < 0) {
        throw malformed(field + " has a negative length " + n);
      }
      need(n, field);
      byte[] out = new byte[n];
      b.get(out);
      return out;
    }

    byte[] rest() {
      return bytes(b.remaining(), "rest");
    }

    String utf8(int n, String field) {
      byte[] bytes = bytes(n, field);
      try {
        CharBuffer chars = StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(bytes));
        return chars.toString();
      } catch (CharacterCodingException e) {
        throw malformed(field + " is not valid UTF-8");
      }
    }

    /** The message must end here. */
    void end() {
      if (b.hasRemaining()) {
        throw malformed(b.remaining() + " unexpected bytes after the last field");
      }
    }
  }
}
