package io.procpool.benchmarks;

import io.procpool.api.SerializableCallable;
import io.procpool.api.SerializableFunction;

/**
 * The task bodies: static methods, like the module-level functions of the Python comparison, so that
 * what travels is a method reference with no captured state.
 */
final class Tasks {
  private Tasks() {}

  /** Does nothing and returns {@code null}: Python's {@code def noop(): return None}. */
  static Object noop() {
    return null;
  }

  /** Returns its argument: Python's {@code def ident(x): return x}. */
  static Integer identity(Integer x) {
    return x;
  }

  /** Returns its argument: the byte echo. */
  static byte[] echo(byte[] bytes) {
    return bytes;
  }

  static final SerializableCallable<Object> NOOP = Tasks::noop;
  static final SerializableFunction<Integer, Integer> IDENTITY = Tasks::identity;
  static final SerializableFunction<byte[], byte[]> ECHO = Tasks::echo;
}
