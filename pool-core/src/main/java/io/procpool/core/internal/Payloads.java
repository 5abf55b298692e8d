package io.procpool.core.internal;

import io.procpool.api.RemoteException;
import io.procpool.api.TaskSerializationException;
import io.procpool.api.spi.Codec;
import java.io.ObjectInputFilter;
import java.nio.ByteBuffer;

/**
 * Encoding and decoding of task payloads (functions, arguments, results, errors) with the pool's
 * {@link Codec} and serial filter, turning every failure into a {@link TaskSerializationException}
 * with a specific message.
 */
final class Payloads {
  private static final int MAX_STACK = 256;
  private static final int MAX_TEXT = 16 * 1024;

  private final Codec codec;
  private final ObjectInputFilter filter;
  private final ClassLoader loader;
  private final String missingClassHint;

  Payloads(Codec codec, ObjectInputFilter filter, ClassLoader loader) {
    this(codec, filter, loader, null);
  }

  /**
   * @param missingClassHint added to a decoding failure whose cause is a class this JVM cannot load
   *     (in a worker process: why the parent has it and this JVM not), or null
   */
  Payloads(Codec codec, ObjectInputFilter filter, ClassLoader loader, String missingClassHint) {
    this.codec = codec;
    this.filter = filter;
    this.loader = loader;
    this.missingClassHint = missingClassHint;
  }

  /** In a worker process: the explanation of a class that the parent has and the worker cannot load. */
  static final String WORKER_MISSING_CLASS = "the worker JVM (pid " + ProcessHandle.current().pid()
      + ") cannot load a class that the parent could: workers run with the classpath the pool derived from the"
      + " parent's launch (java.class.path, its class loaders, its Spring Boot jar or module path) or the one"
      + " given to ProcessPool.builder().workerClasspath(...). Classes that exist only in the parent's memory"
      + " (defined by jshell, the single-file source launcher or a custom class loader) cannot run in workers";

  Codec codec() {
    return codec;
  }

  /**
   * Whether the values this codec decodes never share memory with their input, so that the buffer
   * a large message was read into may be given back to the transport for reuse once it is decoded.
   * Only for the built-in codec: the {@link Codec} contract forbids a custom codec's values to be
   * views of their input, but breaking that would then corrupt kept values silently, so their large
   * messages keep a buffer of their own, as before buffers were lent.
   */
  boolean decodesIntoNewMemory() {
    return codec.getClass() == io.procpool.core.JavaSerializationCodec.class;
  }

  /** Appends the encoding of {@code value} to {@code out}. */
  void encode(Object value, Buf out, String what) {
    encode(value, out, what, -1);
  }

  /**
   * Appends the encoding of {@code value} to {@code out}; on failure the message names
   * {@code what} followed by {@code n} when {@code n >= 0} (built only then: this is the hot path).
   */
  void encode(Object value, Buf out, String what, long n) {
    try {
      codec.encode(value, out);
    } catch (Exception | LinkageError | StackOverflowError e) {
      throw new TaskSerializationException(
          "cannot encode " + name(what, n) + " (" + describe(value) + "): " + e, e);
    }
  }

  /** Decodes a value from the remaining bytes of {@code in}. */
  Object decode(ByteBuffer in, String what) {
    return decode(in, what, -1);
  }

  /** Decodes a value from the remaining bytes of {@code in}; see {@link #encode(Object, Buf, String, long)}. */
  Object decode(ByteBuffer in, String what, long n) {
    try {
      return codec.decode(in, loader, filter);
    } catch (Exception | LinkageError | StackOverflowError e) {
      // LinkageError: NoClassDefFoundError, ExceptionInInitializerError of the value's class in this
      // JVM. It fails this value alone; the connection and the peer are fine.
      throw new TaskSerializationException("cannot decode " + name(what, n) + ": " + SerialFilters.explain(e)
          + (missingClassHint != null && missingClass(e) ? "; " + missingClassHint : ""), e);
    }
  }

  private static boolean missingClass(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof ClassNotFoundException || t instanceof NoClassDefFoundError) {
        return true;
      }
    }
    return false;
  }

  private static String name(String what, long n) {
    return n < 0 ? what : what + n;
  }

  private static String describe(Object value) {
    return value == null ? "null" : "of class " + value.getClass().getName();
  }

  /** Writes {@code t} as an error record; never fails (falls back to class name, message, stack). */
  void encodeError(Throwable t, byte origin, Buf out) {
    out.put(origin);
    out.putString(t.getClass().getName());
    out.putString(truncate(t.getMessage()));
    StackTraceElement[] stack = t.getStackTrace();
    int depth = Math.min(stack.length, MAX_STACK);
    out.putInt(depth);
    for (int i = 0; i < depth; i++) {
      StackTraceElement e = stack[i];
      out.putString(e.getClassName());
      out.putString(e.getMethodName());
      out.putString(e.getFileName());
      out.putInt(e.getLineNumber());
    }
    int lenPos = out.size();
    out.putInt(0);
    int start = out.size();
    try {
      codec.encode(t, out);
      out.setInt(lenPos, out.size() - start);
    } catch (Exception | StackOverflowError e) {
      // The exception (or something it references) is not serializable: the parent rebuilds a
      // RemoteException from the class name, message and stack written above.
      out.truncate(start);
    }
  }

  /** A decoded error record. */
  static final class DecodedError {
    final byte origin;
    final Throwable error;

    DecodedError(byte origin, Throwable error) {
      this.origin = origin;
      this.error = error;
    }
  }

  /** Reads an error record: the original exception if it can be rebuilt, else a {@link RemoteException}. */
  DecodedError decodeError(ByteBuffer in) {
    byte origin = in.get();
    String className = Buf.getString(in);
    String message = Buf.getString(in);
    int depth = in.getInt();
    if (depth < 0 || depth > MAX_STACK) {
      throw new IllegalArgumentException("bad stack depth " + depth);
    }
    StackTraceElement[] stack = new StackTraceElement[depth];
    for (int i = 0; i < depth; i++) {
      String cls = Buf.getString(in);
      String method = Buf.getString(in);
      String file = Buf.getString(in);
      int line = in.getInt();
      stack[i] = new StackTraceElement(cls == null ? "?" : cls, method == null ? "?" : method, file, line);
    }
    int len = in.getInt();
    if (len > 0) {
      ByteBuffer body = in.slice();
      body.limit(Math.min(len, body.remaining()));
      in.position(in.position() + Math.min(len, in.remaining()));
      try {
        Object o = codec.decode(body, loader, filter);
        if (o instanceof Throwable) {
          return new DecodedError(origin, (Throwable) o);
        }
      } catch (Exception | LinkageError e) {
        // fall through to the remote description
      }
    }
    return new DecodedError(origin, new RemoteException(className, message, stack));
  }

  private static String truncate(String s) {
    return s == null || s.length() <= MAX_TEXT ? s : s.substring(0, MAX_TEXT) + "…";
  }
}
