package io.procpool.reliability;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadInfo;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;

/** Sizes (system properties), the summary lines, and small bounded-wait helpers of this suite. */
final class Rel {
  private Rel() {}

  /** Tasks per transport in the chaos run ({@code -Dprocpool.chaos.tasks}). */
  static int chaosTasks() {
    return Integer.getInteger("procpool.chaos.tasks", 100_000);
  }

  /** Tasks per transport in the chaos run with retryOnCrash ({@code -Dprocpool.chaos.retryTasks}). */
  static int retryTasks() {
    return Integer.getInteger("procpool.chaos.retryTasks", Math.max(1, chaosTasks() / 5));
  }

  /** Milliseconds between two SIGKILLs of the chaos thread ({@code -Dprocpool.chaos.killEveryMillis}). */
  static long killEveryMillis() {
    return Long.getLong("procpool.chaos.killEveryMillis", 250);
  }

  /** Seconds of the load run per transport ({@code -Dprocpool.load.seconds}). */
  static int loadSeconds() {
    return Integer.getInteger("procpool.load.seconds", 6);
  }

  /** Transports with separate worker processes, overridable with {@code -Dprocpool.transports=pipes}. */
  static List<String> processTransports() {
    return List.of(System.getProperty("procpool.transports", "pipes,grpc").split(","));
  }

  // ------------------------------------------------------------------ summary

  private static final ConcurrentLinkedQueue<String> SUMMARY = new ConcurrentLinkedQueue<>();

  /** Records a summary line (printed now, and again with all others when the test plan ends). */
  static void summary(String line) {
    SUMMARY.add(line);
    System.out.println("[reliability] " + line);
    System.out.flush();
  }

  static List<String> summaryLines() {
    return List.copyOf(SUMMARY);
  }

  // ------------------------------------------------------------------ waits

  static void pause(long millis) {
    LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(millis));
  }

  /** Polls {@code condition} until it holds or {@code timeout} passes; returns whether it holds. */
  static boolean await(Duration timeout, BooleanSupplier condition) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        return false;
      }
      pause(20);
    }
    return true;
  }

  /** Heap in use after a few GCs. */
  static long usedHeapAfterGc() {
    Runtime rt = Runtime.getRuntime();
    for (int i = 0; i < 3; i++) {
      System.gc();
      pause(50);
    }
    return rt.totalMemory() - rt.freeMemory();
  }

  /** Every thread's stack, with lock owners: what a watchdog prints before it fails a test. */
  static String threadDump() {
    StringBuilder sb = new StringBuilder("thread dump:\n");
    try {
      for (ThreadInfo ti : ManagementFactory.getThreadMXBean().dumpAllThreads(true, true)) {
        sb.append(ti);
      }
    } catch (RuntimeException e) {
      for (Map.Entry<Thread, StackTraceElement[]> e2 : Thread.getAllStackTraces().entrySet()) {
        sb.append('"').append(e2.getKey().getName()).append("\" ").append(e2.getKey().getState()).append('\n');
        for (StackTraceElement el : e2.getValue()) {
          sb.append("\tat ").append(el).append('\n');
        }
      }
    }
    return sb.toString();
  }

  /** The pids of this JVM's live descendants whose command line contains {@code text}. */
  static List<Long> descendantsRunning(String text) {
    return ProcessHandle.current().descendants()
        .filter(ProcessHandle::isAlive)
        .filter(p -> p.info().commandLine().orElse("").contains(text))
        .map(ProcessHandle::pid)
        .collect(java.util.stream.Collectors.toList());
  }

  /** Whether the process is running (a zombie is not). */
  static boolean running(long pid) {
    return ProcessHandle.of(pid).map(p -> {
      if (!p.isAlive()) {
        return false;
      }
      try {
        String stat = java.nio.file.Files.readString(java.nio.file.Path.of("/proc", Long.toString(pid), "stat"));
        char state = stat.charAt(stat.lastIndexOf(')') + 2);
        return state != 'Z' && state != 'X';
      } catch (java.io.IOException | RuntimeException e) {
        return p.isAlive();
      }
    }).orElse(false);
  }
}
