package io.procpool.core.internal;

import io.procpool.api.spi.TransportOptions;
import java.io.InvalidClassException;
import java.io.ObjectInputFilter;

/**
 * The one {@link ObjectInputFilter} procpool decodes with: task functions, arguments, results and
 * errors ({@link Payloads}, in the parent and in the workers) and queue items (the manager-queue
 * module, through {@link #forItems()}). Internal: public only so the manager module can reach it.
 *
 * <p>A class is refused when any of these refuses it, checked in this order:
 * <ol>
 *   <li>the limits: graph depth 2000, the stream longer than the frame size, an array whose
 *       allocation in bytes (length × element size; a reference counts 4 bytes, as with compressed
 *       oops) is larger than the frame size;
 *   <li>the pool's {@code serialFilter(...)} pattern (in a worker, also for queue items): a class it
 *       rejects is refused; a class it explicitly allows skips the built-in reject list below;
 *   <li>a built-in reject list of classes known from deserialization gadget chains;
 *   <li>the operator's JVM-wide filter ({@code -Djdk.serialFilter} or
 *       {@link ObjectInputFilter.Config#setSerialFilter}); the user's pattern cannot override it.
 * </ol>
 * Everything else is allowed: tasks are user classes from the shared classpath, and frames come only
 * from authenticated peers. {@link io.procpool.core.JavaSerializationCodec} additionally merges the
 * filter a stream starts with (the JVM-wide filter, or the result of a {@code jdk.serialFilterFactory})
 * with this one, so neither replaces the other.
 */
public final class SerialFilters {
  private SerialFilters() {}

  /** The deepest object graph accepted. */
  static final long MAX_DEPTH = 2000;

  /** Classes that appear in well-known deserialization gadget chains. */
  static final String REJECTED =
      "!org.apache.commons.collections.functors.*;"
          + "!org.apache.commons.collections4.functors.*;"
          + "!org.apache.commons.beanutils.BeanComparator;"
          + "!org.codehaus.groovy.runtime.*;"
          + "!com.sun.org.apache.xalan.internal.xsltc.trax.*;"
          + "!org.apache.xalan.xsltc.trax.*;"
          + "!org.springframework.beans.factory.*;"
          + "!org.springframework.core.SerializableTypeWrapper*;"
          + "!com.mchange.v2.c3p0.**;"
          + "!com.sun.rowset.*;"
          + "!javax.management.BadAttributeValueExpException;"
          + "!java.rmi.server.UnicastRemoteObject;"
          + "!java.rmi.server.RemoteObjectInvocationHandler;"
          + "!sun.rmi.**;"
          + "!bsh.**;"
          + "!org.python.core.**;"
          + "!clojure.**;"
          + "!org.mozilla.javascript.**";

  private static final ObjectInputFilter BUILT_IN = ObjectInputFilter.Config.createFilter(REJECTED);

  /** Queue items decoded outside a worker: no user pattern. */
  private static final ObjectInputFilter ITEMS = create(null, TransportOptions.DEFAULT_MAX_FRAME_SIZE);

  /** In a worker process: the items filter with its pool's pattern, set at INIT. */
  private static volatile ObjectInputFilter workerItems;

  /** On an in-JVM worker thread: the items filter with its pool's pattern. */
  private static final ThreadLocal<ObjectInputFilter> THREAD_ITEMS = new ThreadLocal<>();

  /** Why this thread's last decode was refused; set on refusal only, read by {@link #explain}. */
  private static final ThreadLocal<String> LAST_REFUSAL = new ThreadLocal<>();

  /**
   * The filter for a pool's tasks and results.
   *
   * @param userPattern a JEP 290 pattern (the pool's {@code serialFilter(...)}), or {@code null}
   * @param maxBytes the largest stream and array allocation accepted (the frame size)
   * @throws IllegalArgumentException if the pattern is malformed
   */
  static ObjectInputFilter create(String userPattern, long maxBytes) {
    return new PoolFilter(userPattern, maxBytes);
  }

  /**
   * The filter for queue items decoded by the calling thread: in a worker (a process, or an in-JVM
   * worker thread) it includes the pool's {@code serialFilter(...)} pattern; elsewhere the built-in
   * reject list, the JVM-wide filter and the limits for the manager's frame size.
   */
  public static ObjectInputFilter forItems() {
    ObjectInputFilter f = THREAD_ITEMS.get();
    if (f != null) {
      return f;
    }
    f = workerItems;
    return f != null ? f : ITEMS;
  }

  /** Called at a worker's INIT: queue items decoded in this worker pass the pool's pattern too. */
  static void workerPattern(String userPattern, boolean processWorker) {
    ObjectInputFilter f = create(userPattern, TransportOptions.DEFAULT_MAX_FRAME_SIZE);
    if (processWorker) {
      workerItems = f;
    } else {
      THREAD_ITEMS.set(f);
    }
  }

  /** Ends {@link #workerPattern} for an in-JVM worker thread. */
  static void clearThreadPattern() {
    THREAD_ITEMS.remove();
  }

  /**
   * A readable reason for a decode failure: which rule refused which class, if {@code e} (or a
   * cause) is the filter's refusal on this thread; otherwise {@code e}'s own description.
   */
  public static String explain(Throwable e) {
    String reason = LAST_REFUSAL.get();
    LAST_REFUSAL.remove();
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof InvalidClassException && String.valueOf(t.getMessage()).contains("filter status: REJECTED")) {
        return (reason != null ? reason : "refused by the serial filter") + " (" + t + ")";
      }
    }
    return String.valueOf(e);
  }

  /** Bytes an array of {@code length} elements of {@code arrayClass} allocates (about). */
  static long arrayBytes(Class<?> arrayClass, long length) {
    Class<?> c = arrayClass == null ? null : arrayClass.getComponentType();
    int size;
    if (c == null || !c.isPrimitive()) {
      size = 4;
    } else if (c == long.class || c == double.class) {
      size = 8;
    } else if (c == int.class || c == float.class) {
      size = 4;
    } else if (c == char.class || c == short.class) {
      size = 2;
    } else {
      size = 1; // byte, boolean
    }
    return length * size;
  }

  /**
   * procpool's own serializable types, which a user pattern does not need to list: the API's
   * exceptions (a worker's {@code TaskSerializationException} must reach the caller as such) and the
   * managed-queue proxy (a queue passed to a worker). The built-in list and the operator's JVM-wide
   * filter still apply.
   */
  static boolean isProcpoolOwn(Class<?> c) {
    return (c.getPackageName().equals("io.procpool.api") && Throwable.class.isAssignableFrom(c))
        || c.getName().equals(QUEUE_PROXY);
  }

  private static final String QUEUE_PROXY = "io.procpool.manager.internal.QueueProxy";

  private static String name(Class<?> c) {
    return c.getTypeName();
  }

  private static ObjectInputFilter.Status refuse(String reason) {
    LAST_REFUSAL.set(reason);
    return ObjectInputFilter.Status.REJECTED;
  }

  /** See the class javadoc. */
  private static final class PoolFilter implements ObjectInputFilter {
    private final ObjectInputFilter user;
    private final String userPattern;
    private final long maxBytes;

    PoolFilter(String userPattern, long maxBytes) {
      this.userPattern = userPattern;
      this.user = userPattern == null ? null : ObjectInputFilter.Config.createFilter(userPattern);
      this.maxBytes = maxBytes;
    }

    @Override
    public Status checkInput(FilterInfo info) {
      if (info.depth() > MAX_DEPTH) {
        return refuse("the object graph is deeper than " + MAX_DEPTH);
      }
      if (info.streamBytes() > maxBytes) {
        return refuse("the stream is longer than " + maxBytes + " bytes");
      }
      Class<?> c = info.serialClass();
      if (info.arrayLength() >= 0) {
        long bytes = arrayBytes(c, info.arrayLength());
        if (bytes > maxBytes) {
          String type = c == null || c.getComponentType() == null ? "?" : name(c.getComponentType());
          return refuse("an array " + type + "[" + info.arrayLength() + "] would take " + bytes
              + " bytes, over the limit of " + maxBytes);
        }
      }
      if (c == null) {
        return jvmWide(info, null);
      }
      if (user != null && isProcpoolOwn(c)) {
        return jvmWide(info, c); // the pool's own exceptions and queue proxies pass any pattern
      }
      if (user != null) {
        Status s = user.checkInput(info);
        if (s == Status.REJECTED) {
          return refuse("class " + name(c) + " is refused by the pool's serialFilter \"" + userPattern + "\"");
        }
        if (s == Status.ALLOWED) {
          return jvmWide(info, c);
        }
      }
      if (BUILT_IN.checkInput(info) == Status.REJECTED) {
        return refuse("class " + name(c) + " is on procpool's built-in reject list of deserialization gadgets");
      }
      return jvmWide(info, c);
    }

    /** The operator's JVM-wide filter, if any, may still refuse; nothing here overrides it. */
    private static Status jvmWide(FilterInfo info, Class<?> c) {
      ObjectInputFilter jvm = ObjectInputFilter.Config.getSerialFilter();
      if (jvm != null && jvm.checkInput(info) == Status.REJECTED) {
        return refuse((c == null ? "the stream" : "class " + name(c))
            + " is refused by the JVM-wide serial filter (" + jvm + ")");
      }
      return Status.ALLOWED;
    }
  }
}
