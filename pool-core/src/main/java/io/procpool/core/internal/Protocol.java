package io.procpool.core.internal;

/**
 * The messages between the parent and a worker, carried one per transport message. All integers
 * are big-endian; strings are length-prefixed UTF-8 ({@code -1} = null).
 *
 * <pre>
 * worker → parent
 *   HELLO        u8 type, i32 protocolVersion, i32 workerId, i64 pid
 *   READY        u8 type
 *   INIT_FAILED  u8 type, error
 *   RESULT       u8 type, i64 taskId, i64 execNanos, u8 status, body
 *                  status OK: value bytes to the end; ERROR: error;
 *                  CHUNK: i32 n, n × (i32 len, value bytes), u8 failed, [error]
 *   OUTPUT       u8 type, u8 stream (1 = out, 2 = err), bytes to the end
 *   RETIRE       u8 type (the worker passed maxMemoryPerChild: replace it)
 * parent → worker
 *   INIT         u8 type, string codec, string serialFilter, u8 captureOutput, i64 maxMemory,
 *                i32 len, initializer bytes
 *   DEFINE       u8 type, i32 fnId, function bytes to the end
 *   FORGET       u8 type, i32 fnId
 *   TASK         u8 type, i64 taskId, i32 fnId, u8 kind, body
 *                  kind CALL/RUN: empty; APPLY: argument bytes to the end;
 *                  CHUNK: i32 n, n × (i32 len, argument bytes)
 *   SHUTDOWN     u8 type
 * error: u8 origin (0 = thrown by the task, 1 = raised by procpool), string className,
 *        string message, i32 depth, depth × (string class, string method, string file, i32 line),
 *        i32 len, serialized throwable (len 0 when it could not be serialized)
 * </pre>
 */
final class Protocol {
  private Protocol() {}

  static final int VERSION = 1;

  static final byte HELLO = 1;
  static final byte READY = 2;
  static final byte INIT_FAILED = 3;
  static final byte RESULT = 4;
  static final byte OUTPUT = 5;
  static final byte RETIRE = 6;

  static final byte INIT = 20;
  static final byte DEFINE = 21;
  static final byte FORGET = 22;
  static final byte TASK = 23;
  static final byte SHUTDOWN = 24;

  static final byte KIND_CALL = 0;
  static final byte KIND_APPLY = 1;
  static final byte KIND_RUN = 2;
  static final byte KIND_CHUNK = 3;

  static final byte STATUS_OK = 0;
  static final byte STATUS_ERROR = 1;
  static final byte STATUS_CHUNK = 2;

  static final byte ORIGIN_TASK = 0;
  static final byte ORIGIN_PROCPOOL = 1;

  static final byte STREAM_OUT = 1;
  static final byte STREAM_ERR = 2;

  /** Size of the fixed part of a TASK message. */
  static final int TASK_HEADER = 1 + 8 + 4 + 1;
}
