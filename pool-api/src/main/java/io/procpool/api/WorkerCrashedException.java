package io.procpool.api;

import java.util.OptionalInt;

/**
 * The worker that was running (or holding) the task died: it was killed, called {@code System.exit},
 * ran out of memory, or its channel broke. The pool has replaced the worker. The task may or may not
 * have run, in part or in full.
 */
public class WorkerCrashedException extends ProcPoolException {
  private static final long serialVersionUID = 1L;

  private final long workerPid;
  private final Integer exitCode;
  private final String verdict;

  /**
   * @param message what happened, including the pid and exit code
   * @param workerPid the pid of the dead worker ({@code -1} if unknown)
   * @param exitCode its exit code, or {@code null} if unknown
   * @param cause an underlying failure (such as a protocol error), or {@code null}
   */
  public WorkerCrashedException(String message, long workerPid, Integer exitCode, Throwable cause) {
    this(message, workerPid, exitCode, null, cause);
  }

  /**
   * @param message what happened, including the pid, exit code and verdict
   * @param workerPid the pid of the dead worker ({@code -1} if unknown)
   * @param exitCode its exit code, or {@code null} if unknown
   * @param verdict how the cluster engine says the worker's job ended (e.g. {@code CANCELLED},
   *     {@code TIMEOUT}, {@code NODE_FAIL}, {@code OUT_OF_MEMORY}), or {@code null}
   * @param cause an underlying failure (such as a protocol error), or {@code null}
   */
  public WorkerCrashedException(String message, long workerPid, Integer exitCode, String verdict, Throwable cause) {
    super(message, cause);
    this.workerPid = workerPid;
    this.exitCode = exitCode;
    this.verdict = verdict;
  }

  /**
   * For a worker placed by a cluster engine, how the engine says its job ended, in the engine's words
   * (Slurm: {@code CANCELLED}, {@code TIMEOUT}, {@code NODE_FAIL}, {@code OUT_OF_MEMORY}, {@code FAILED},
   * ...), when it was known within about a second of the loss.
   */
  public java.util.Optional<String> verdict() {
    return java.util.Optional.ofNullable(verdict);
  }

  /** The pid of the worker that died, or {@code -1} if unknown. */
  public long workerPid() {
    return workerPid;
  }

  /**
   * The worker's exit code when known. On Linux a worker killed by signal {@code n} reports
   * {@code 128 + n}, so SIGKILL shows as 137.
   */
  public OptionalInt exitCode() {
    return exitCode == null ? OptionalInt.empty() : OptionalInt.of(exitCode);
  }

  /** A human explanation of a worker exit code, e.g. {@code "killed by signal 9 (SIGKILL)"}. */
  public static String describeExitCode(int exitCode) {
    if (exitCode > 128 && exitCode < 128 + 65) {
      int signal = exitCode - 128;
      return "killed by signal " + signal + signalName(signal);
    }
    switch (exitCode) {
      case 0:
        return "exited normally (code 0)";
      case 3:
        return "exited with code 3 (OutOfMemoryError, -XX:+ExitOnOutOfMemoryError)";
      default:
        return "exited with code " + exitCode;
    }
  }

  private static String signalName(int signal) {
    switch (signal) {
      case 1: return " (SIGHUP)";
      case 2: return " (SIGINT)";
      case 6: return " (SIGABRT)";
      case 9: return " (SIGKILL)";
      case 11: return " (SIGSEGV)";
      case 15: return " (SIGTERM)";
      default: return "";
    }
  }
}
