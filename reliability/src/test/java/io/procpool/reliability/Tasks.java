package io.procpool.reliability;

import java.util.ArrayList;
import java.util.List;

/** Task bodies run in the workers (static, so lambdas referring to them capture nothing). */
final class Tasks {
  private Tasks() {}

  /** The value a chaos task must return for its input. */
  static long expected(int i) {
    return 2L * i + 1;
  }

  static long compute(int i) {
    return expected(i);
  }

  static long pid() {
    return ProcessHandle.current().pid();
  }

  /** Kept alive on purpose: a leak for the maxMemoryPerChild test. */
  private static final List<byte[]> LEAK = new ArrayList<>();

  /** Leaks {@code mib} MiB (touched, so it is resident) and returns this worker's pid. */
  static long leak(int mib) {
    byte[] b = new byte[mib * 1024 * 1024];
    for (int i = 0; i < b.length; i += 4096) {
      b[i] = 1;
    }
    synchronized (LEAK) {
      LEAK.add(b);
    }
    return ProcessHandle.current().pid();
  }
}
