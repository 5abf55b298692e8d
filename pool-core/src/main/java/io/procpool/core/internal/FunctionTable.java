package io.procpool.core.internal;

import com.google.common.cache.Cache;
import com.google.common.cache.CacheBuilder;
import io.procpool.api.TaskSerializationException;
import java.io.IOException;
import java.io.ObjectOutputStream;
import java.io.OutputStream;
import java.lang.invoke.SerializedLambda;
import java.lang.reflect.Method;
import java.nio.ByteBuffer;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Encodes task functions and gives each distinct encoding an id, so that a worker receives a
 * function once (see {@link WorkerHandle#ensureDefined}) and tasks refer to it by id.
 *
 * <p>Like Python, which pickles the callable on every call, a function runs as it is when it is
 * submitted. A function whose state cannot change is encoded once and looked up by identity: a
 * lambda or method reference that captures nothing or only immutable values (strings, boxed
 * primitives, enums, classes, other such functions), or an enum constant. Any other function (an
 * object with fields, a lambda capturing a mutable object) is encoded at every submit, and tasks
 * reuse the id of an identical earlier encoding, so an unchanged function is still sent to a worker
 * once.
 */
final class FunctionTable {
  private static final int MAX_ENTRIES = 4096;

  private final Payloads payloads;
  private final int maxFrameSize;
  private final AtomicInteger ids = new AtomicInteger();
  /** Functions that cannot change, by identity (weakly). */
  private final Cache<Object, Entry> byIdentity =
      CacheBuilder.newBuilder().weakKeys().maximumSize(MAX_ENTRIES).build();
  /** Encodings of functions that may change, by content. */
  private final Cache<ByteBuffer, Entry> byContent = CacheBuilder.newBuilder().maximumSize(MAX_ENTRIES).build();
  private volatile LastHit last;

  /** An encoded function: its id and its DEFINE message. */
  static final class Entry {
    final int id;
    private final ByteBuffer define;
    /**
     * Average run time of its tasks in nanoseconds, 0 while unknown: the scheduler's credit for it.
     * Guarded by the scheduler's lock.
     */
    double avgNanos;

    Entry(int id, ByteBuffer define) {
      this.id = id;
      this.define = define;
    }

    /** A fresh view of the DEFINE message, for one write. */
    ByteBuffer defineMessage() {
      return define.duplicate();
    }
  }

  /** The most recent lookup of an unchangeable function. Holds it strongly: one object. */
  private static final class LastHit {
    final Object fn;
    final Entry entry;

    LastHit(Object fn, Entry entry) {
      this.fn = fn;
      this.entry = entry;
    }
  }

  FunctionTable(Payloads payloads, int maxFrameSize) {
    this.payloads = payloads;
    this.maxFrameSize = maxFrameSize;
  }

  /**
   * The entry for {@code fn} as it is now.
   *
   * @throws TaskSerializationException if it cannot be encoded
   */
  Entry entry(Object fn) {
    // Fast path: most submissions reuse the function of the previous one (applyAsync in a loop,
    // map). A Guava lookup records the access and allocates; this is one read and one compare.
    LastHit hit = last;
    if (hit != null && hit.fn == fn) {
      return hit.entry;
    }
    Entry e = byIdentity.getIfPresent(fn);
    if (e != null) {
      last = new LastHit(fn, e);
      return e;
    }
    if (Immutability.of(fn)) {
      try {
        e = byIdentity.get(fn, () -> newEntry(encode(fn)));
      } catch (ExecutionException | com.google.common.util.concurrent.UncheckedExecutionException ex) {
        throw (RuntimeException) ex.getCause();
      }
      last = new LastHit(fn, e);
      return e;
    }
    Buf define = encode(fn);
    ByteBuffer content = ByteBuffer.wrap(define.array(), 5, define.size() - 5);
    e = byContent.getIfPresent(content);
    if (e == null) {
      e = newEntry(define);
      byContent.put(content, e);
    }
    return e;
  }

  private Buf encode(Object fn) {
    Buf b = WorkerProtocol.beginDefine(0);
    payloads.encode(fn, b, "the task function");
    if (b.size() > maxFrameSize) {
      throw new TaskSerializationException("the task function is " + b.size()
          + " bytes encoded, over maxFrameSize " + maxFrameSize + " (does it capture a large object?)");
    }
    return b;
  }

  private Entry newEntry(Buf define) {
    int id = ids.incrementAndGet();
    define.setInt(1, id);
    return new Entry(id, define.toByteBuffer().asReadOnlyBuffer());
  }

  /** Whether a function's encoding can change after it was first submitted. */
  static final class Immutability {
    private Immutability() {}

    /** Classes all of whose instances are unchangeable functions (non-capturing lambdas, enums). */
    private static final ClassValue<Boolean> ALWAYS = new ClassValue<>() {
      @Override
      protected Boolean computeValue(Class<?> type) {
        return type.isEnum() || (type.getSuperclass() != null && type.getSuperclass().isEnum())
            || (isLambda(type) && type.getDeclaredFields().length == 0);
      }
    };

    static boolean of(Object fn) {
      return of(fn, 0);
    }

    private static boolean of(Object fn, int depth) {
      Class<?> type = fn.getClass();
      if (ALWAYS.get(type)) {
        return true;
      }
      if (!isLambda(type) || depth > 4) {
        return false;
      }
      SerializedLambda lambda = serializedForm(fn);
      if (lambda == null) {
        return false;
      }
      for (int i = 0; i < lambda.getCapturedArgCount(); i++) {
        Object arg = lambda.getCapturedArg(i);
        if (!(arg == null || arg instanceof String || arg instanceof Integer || arg instanceof Long
            || arg instanceof Short || arg instanceof Byte || arg instanceof Character || arg instanceof Boolean
            || arg instanceof Double || arg instanceof Float || arg instanceof Enum || arg instanceof Class
            || of(arg, depth + 1))) {
          return false;
        }
      }
      return true;
    }

    private static boolean isLambda(Class<?> type) {
      return type.isSynthetic() && type.getName().contains("$$Lambda");
    }

    /**
     * A lambda class's {@code writeReplace}, made accessible; null when its module does not open the
     * class's package to procpool (an application on the module path).
     */
    private static final ClassValue<Method> WRITE_REPLACE = new ClassValue<>() {
      @Override
      protected Method computeValue(Class<?> type) {
        try {
          Method writeReplace = type.getDeclaredMethod("writeReplace");
          writeReplace.setAccessible(true);
          return writeReplace;
        } catch (ReflectiveOperationException | RuntimeException e) {
          return null;
        }
      }
    };

    /** The serialized form of a serializable lambda, null if it is not one or cannot be read. */
    static SerializedLambda serializedForm(Object fn) {
      Method writeReplace = WRITE_REPLACE.get(fn.getClass());
      if (writeReplace == null) {
        return LambdaFormProbe.serializedForm(fn);
      }
      try {
        Object form = writeReplace.invoke(fn);
        return form instanceof SerializedLambda ? (SerializedLambda) form : null;
      } catch (ReflectiveOperationException | RuntimeException e) {
        return null; // treat it as changeable
      }
    }
  }

  /**
   * Reads a lambda's serialized form through serialization, which may call {@code writeReplace} in any
   * module: the object stream hands the {@link SerializedLambda} to {@link #replaceObject}, which
   * keeps it and stops before anything the lambda captured is written.
   */
  static final class LambdaFormProbe extends ObjectOutputStream {
    /** Thrown to stop writing once the form is known. */
    private static final class Found extends IOException {
      private static final long serialVersionUID = 1L;

      Found() {
        super("found the serialized form");
      }

      @Override
      public synchronized Throwable fillInStackTrace() {
        return this; // control flow: no stack trace
      }
    }

    private SerializedLambda form;
    private boolean stopped;

    private LambdaFormProbe() throws IOException {
      super(OutputStream.nullOutputStream());
      enableReplaceObject(true);
    }

    @Override
    protected Object replaceObject(Object obj) throws IOException {
      if (stopped) {
        return obj; // the stream writing its own failure
      }
      stopped = true;
      if (obj instanceof SerializedLambda) {
        form = (SerializedLambda) obj;
      }
      throw new Found(); // the first object is the function itself, after its writeReplace
    }

    /** The serialized form of a serializable lambda, null if it is not one or cannot be written. */
    static SerializedLambda serializedForm(Object fn) {
      try (LambdaFormProbe probe = new LambdaFormProbe()) {
        try {
          probe.writeObject(fn);
        } catch (Found stop) {
          // expected
        }
        return probe.form;
      } catch (IOException | RuntimeException e) {
        return null; // not serializable: treat it as changeable
      }
    }
  }
}
