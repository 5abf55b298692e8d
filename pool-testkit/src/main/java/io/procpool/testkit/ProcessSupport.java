package io.procpool.testkit;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/** Small helpers about OS processes, shared by the extension and the contract tests. */
final class ProcessSupport {
  private ProcessSupport() {}

  /**
   * Whether {@code process} is still running. Unlike {@link ProcessHandle#isAlive()}, a zombie (a
   * process that has exited but was not reaped yet, e.g. an orphan whose reaper is slow) counts as
   * gone: it holds no resources and runs no code.
   */
  static boolean isRunning(ProcessHandle process) {
    if (!process.isAlive()) {
      return false;
    }
    try {
      String stat = Files.readString(Path.of("/proc", Long.toString(process.pid()), "stat"));
      int end = stat.lastIndexOf(')');
      if (end >= 0 && end + 2 < stat.length()) {
        char state = stat.charAt(end + 2);
        return state != 'Z' && state != 'X';
      }
    } catch (IOException | RuntimeException e) {
      // Not Linux, or the process vanished meanwhile: fall back to (or re-ask) isAlive.
    }
    return process.isAlive();
  }

  /** Whether the process with this pid is running (see {@link #isRunning(ProcessHandle)}). */
  static boolean isRunning(long pid) {
    return ProcessHandle.of(pid).map(ProcessSupport::isRunning).orElse(false);
  }

  /** {@code "pid 123: /usr/bin/java -cp ..."}, as far as the OS tells. */
  static String describe(ProcessHandle process) {
    ProcessHandle.Info info = process.info();
    String commandLine =
        info.commandLine()
            .orElseGet(() -> info.command().orElse("<unknown command>")
                + info.arguments().map(args -> " " + String.join(" ", args)).orElse(""));
    return "pid " + process.pid() + ": " + commandLine;
  }

  /** Parks the calling thread briefly; the polling step of every condition wait in this module. */
  static void pause() {
    LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(20));
  }
}
