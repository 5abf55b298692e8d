package io.procpool.benchmarks;

import io.procpool.api.ProcessPool;
import io.procpool.api.spi.TransportRegistry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;

/**
 * What every benchmark does around its pool: refuse a transport that is not on the classpath with a
 * clear message, start the pool, and on tear-down close it and fail if worker JVMs survive.
 *
 * <p>Extra worker JVM options (for profiling a worker) come from the system property
 * {@value #WORKER_JVM_OPTIONS}, split on whitespace; e.g. {@code
 * -jvmArgsAppend "-Dprocpool.bench.workerJvmOptions=-XX:StartFlightRecording=filename=/tmp/w.jfr"}.
 */
final class Pools {
  /** System property with extra, whitespace-separated worker JVM options. */
  static final String WORKER_JVM_OPTIONS = "procpool.bench.workerJvmOptions";

  /** How long tear-down waits for child JVMs to go after {@code close()} returned. */
  static final Duration CHILD_EXIT_WAIT = Duration.ofSeconds(5);

  private Pools() {}

  /**
   * Starts a pool of {@code processes} workers on {@code transport}.
   *
   * @throws UnsupportedOperationException if the transport is not on the classpath: JMH then reports
   *     this parameter combination as failed and goes on with the next one (a skip); pass {@code -p
   *     transport=...} to leave it out of the run
   */
  static ProcessPool start(String transport, int processes) {
    requireTransport(transport);
    ProcessPool.Builder builder = ProcessPool.builder().transport(transport).processes(processes);
    String extra = System.getProperty(WORKER_JVM_OPTIONS, "").trim();
    if (!extra.isEmpty()) {
      builder.jvmOptions(extra.split("\\s+"));
    }
    return builder.build();
  }

  /** Fails, naming the transports found, unless {@code transport} is available. */
  static void requireTransport(String transport) {
    List<String> found = TransportRegistry.names();
    if (!found.contains(transport)) {
      throw new UnsupportedOperationException(
          "SKIPPED: transport '" + transport + "' is not on the classpath of benchmarks.jar (found: "
              + String.join(", ", found) + "); add its artifact to benchmarks/pom.xml or pass -p transport="
              + String.join(",", found));
    }
  }

  /**
   * Closes {@code pool} (if not null) and then checks that this JVM has no live descendant processes
   * left, waiting at most {@link #CHILD_EXIT_WAIT}. Survivors are killed (so that no JVM is left
   * running) and reported by throwing.
   *
   * @throws IllegalStateException if child processes survived the pool
   */
  static void closeAndCheck(ProcessPool pool) {
    try {
      if (pool != null) {
        pool.close();
      }
    } finally {
      assertNoChildProcesses(CHILD_EXIT_WAIT);
    }
  }

  /** Waits up to {@code wait} for every descendant of this JVM to exit; kills and reports the rest. */
  static void assertNoChildProcesses(Duration wait) {
    long deadline = System.nanoTime() + wait.toNanos();
    List<ProcessHandle> alive = liveDescendants();
    while (!alive.isEmpty() && System.nanoTime() < deadline) {
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
      alive = liveDescendants();
    }
    if (!alive.isEmpty()) {
      String described = alive.stream().map(Pools::describe).collect(Collectors.joining("; "));
      alive.forEach(ProcessHandle::destroyForcibly);
      throw new IllegalStateException(alive.size() + " child process(es) of the benchmark JVM survived the pool by "
          + wait.toMillis() + " ms (now killed): " + described);
    }
  }

  private static List<ProcessHandle> liveDescendants() {
    List<ProcessHandle> result = new ArrayList<>();
    ProcessHandle.current().descendants().filter(ProcessHandle::isAlive).forEach(result::add);
    return result;
  }

  private static String describe(ProcessHandle p) {
    ProcessHandle.Info info = p.info();
    String cmd = info.command().orElse("?");
    String args = info.arguments().map(a -> String.join(" ", Arrays.asList(a))).orElse("");
    if (args.length() > 200) {
      args = args.substring(0, 200) + "…";
    }
    return "pid " + p.pid() + " " + cmd + " " + args;
  }
}
