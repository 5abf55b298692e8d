package io.procpool.manager.internal;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

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
 *   <tr><td>11 SNAPSHOT</td><td>{@code i64 queueId}</td><td>as DRAIN, items stay</td></tr>
 *   <tr><td>12 CANCEL</td><td>{@code i64 targetRequestId}</td><td>no answer of its own: the target
 *       is answered CANCELLED if it was still waiting</td></tr>
 *   <tr><td>13 PING</td><td>-</td><td>-</td></tr>
 *   <tr><td>14 SHUTDOWN</td><td>-</td><td>- (then the manager exits)</td></tr>
 * </table>
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
 */
public final class Protocol {
  private Protocol() {}

  /** Bumped on any incompatible change; not negotiated yet (manager and clients ship together). */
  static final int VERSION = 1;

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

  static final byte OK = 0;
  static final byte EMPTY = 1;
  static final byte FULL = 2;
  static final byte ILLEGAL_STATE = 3;
  static final byte CANCELLED = 4;
  static final byte NO_SUCH_QUEUE = 5;
  static final byte ILLEGAL_ARGUMENT = 6;
  static final byte ERROR = 7;

  static final int FLAG_NAMED = 1;
  static final int FLAG_MAXSIZE_GIVEN = 2;

  /** {@code timeoutNanos} meaning "wait without limit". */
  static final long FOREVER = -1;

  /** A request header with room for {@code extra} more bytes; the caller fills and flips it. */
  static ByteBuffer request(byte op, long requestId, int extra) {
    ByteBuffer b = ByteBuffer.allocate(9 + extra);
    b.put(op).putLong(requestId);
    return b;
  }

  /** An answer with the given payload. */
  static ByteBuffer answer(long requestId, byte status, byte[] payload) {
    ByteBuffer b = ByteBuffer.allocate(9 + (payload == null ? 0 : payload.length));
    b.putLong(requestId).put(status);
    if (payload != null) {
      b.put(payload);
    }
    return b.flip();
  }

  /** An answer carrying a message (for the error statuses). */
  static ByteBuffer answer(long requestId, byte status, String message) {
    return answer(requestId, status, message.getBytes(StandardCharsets.UTF_8));
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
}
