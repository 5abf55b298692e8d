package io.procpool.launch;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * One run of a consumer application in its own JVM, and everything it left behind.
 *
 * <p>The application gets a unique environment variable {@value #MARKER_VARIABLE}; every process it
 * starts (workers, the manager) inherits it, so after the application exits the processes still
 * carrying the marker are exactly what it leaked, whoever they were reparented to. They are found in
 * {@code /proc/<pid>/environ} (Linux), killed, and reported.
 *
 * @param scenario the scenario's name, for messages
 * @param command the command line
 * @param pid the application's pid
 * @param exitCode its exit code, or -1 if it did not exit in time (it was killed)
 * @param stdout what it printed on stdout (workers' and manager's stdout included: they inherit it)
 * @param stderr what it printed on stderr (its children's stderr is forwarded there)
 * @param leaked the processes that carried the marker after the application exited, described
 * @param elapsed from start to exit (or to the kill)
 */
record AppRun(String scenario, List<String> command, long pid, int exitCode, String stdout, String stderr,
    List<String> leaked, Duration elapsed) {

  /** The environment variable that marks an application and its descendants. */
  static final String MARKER_VARIABLE = "PROCPOOL_LAUNCH_TEST";

  /** How long an application may take; it normally takes a few seconds. */
  static final Duration TIMEOUT = Duration.ofSeconds(120);

  /** How long the application's children may take to exit after it has. */
  static final Duration EXIT_GRACE = Duration.ofSeconds(20);

  private static final int MAX_OUTPUT_CHARS = 20_000;

  /**
   * Runs {@code command} in {@code workDir} until it exits (at most {@link #TIMEOUT}), then waits (at
   * most {@link #EXIT_GRACE}) until no process carries its marker; kills whatever is left.
   */
  static AppRun run(String scenario, Path workDir, List<String> command) {
    return run(scenario, workDir, command, TIMEOUT, EXIT_GRACE);
  }

  /**
   * Like {@link #run(String, Path, List)}, with other limits: the application may take at most
   * {@code timeout} (then it is asked for a thread dump and killed), its processes at most
   * {@code exitGrace} to go after it exited.
   */
  static AppRun run(String scenario, Path workDir, List<String> command, Duration timeout, Duration exitGrace) {
    String marker = MARKER_VARIABLE + "=" + UUID.randomUUID();
    Path out = workDir.resolve(scenario + ".stdout");
    Path err = workDir.resolve(scenario + ".stderr");
    ProcessBuilder builder = new ProcessBuilder(command).directory(workDir.toFile())
        .redirectInput(ProcessBuilder.Redirect.from(nullDevice()))
        .redirectOutput(out.toFile()).redirectError(err.toFile());
    builder.environment().put(MARKER_VARIABLE, marker.substring(MARKER_VARIABLE.length() + 1));
    long start = System.nanoTime();
    Process process;
    try {
      process = builder.start();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot start " + command, e);
    }
    int exitCode;
    try {
      exitCode = process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS) ? process.exitValue() : -1;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      exitCode = -1;
    }
    Duration elapsed = Duration.ofNanos(System.nanoTime() - start);
    if (exitCode == -1) {
      requestThreadDump(process, out);
      process.destroyForcibly();
    }
    List<String> leaked = awaitGone(marker, exitGrace);
    try {
      process.waitFor(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    return new AppRun(scenario, command, process.pid(), exitCode, read(out), read(err), leaked, elapsed);
  }

  /**
   * Asks a hung JVM for a thread dump (SIGQUIT: the JVM prints it on its stdout) and waits a little
   * for it, so the report shows where the application hangs.
   */
  private static void requestThreadDump(Process process, Path stdout) {
    try {
      new ProcessBuilder("kill", "-QUIT", Long.toString(process.pid())).inheritIO().start()
          .waitFor(5, TimeUnit.SECONDS);
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
      while (process.isAlive() && System.nanoTime() < deadline && !read(stdout).contains("JNI global refs")) {
        LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(50));
      }
    } catch (IOException e) {
      // no kill command: no thread dump
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Everything about this run, for an assertion message. */
  String report() {
    return "scenario " + scenario + ": " + (exitCode == -1 ? "did not exit in time, killed"
        : "exit code " + exitCode) + " after " + seconds() + ", pid " + pid
        + "\ncommand: " + String.join(" ", command)
        + (leaked.isEmpty() ? "" : "\nleft behind (killed): " + String.join("; ", leaked))
        + "\n--- stdout ---\n" + stdout + "--- stderr ---\n" + stderr + "--- end ---";
  }

  /** The elapsed time, e.g. {@code "2.1 s"}. */
  String seconds() {
    return String.format(Locale.ROOT, "%.1f s", elapsed.toMillis() / 1000.0);
  }

  /** The lines of stdout and stderr that start with {@code prefix}. */
  List<String> linesStartingWith(String prefix) {
    return (stdout + "\n" + stderr).lines().filter(l -> l.startsWith(prefix)).toList();
  }

  private static List<String> awaitGone(String marker, Duration grace) {
    long deadline = System.nanoTime() + grace.toNanos();
    List<ProcessHandle> marked = marked(marker);
    while (!marked.isEmpty() && System.nanoTime() < deadline) {
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(50));
      marked = marked(marker);
    }
    List<String> described = marked.stream().map(AppRun::describe).toList();
    marked.forEach(ProcessHandle::destroyForcibly);
    return described;
  }

  /** The running processes whose environment holds {@code marker} (zombies hold no environment). */
  private static List<ProcessHandle> marked(String marker) {
    byte[] needle = marker.getBytes(StandardCharsets.UTF_8);
    return ProcessHandle.allProcesses().filter(p -> environContains(p.pid(), needle)).toList();
  }

  private static boolean environContains(long pid, byte[] needle) {
    byte[] environ;
    try {
      environ = Files.readAllBytes(Path.of("/proc", Long.toString(pid), "environ"));
    } catch (IOException | SecurityException e) {
      return false; // gone meanwhile, or not ours to read (then not started by the application)
    }
    int from = 0;
    for (int i = 0; i <= environ.length; i++) {
      if (i == environ.length || environ[i] == 0) {
        if (Arrays.equals(environ, from, i, needle, 0, needle.length)) {
          return true;
        }
        from = i + 1;
      }
    }
    return false;
  }

  /**
   * Whether the process {@code pid} is running; a zombie (exited, not yet reaped) is not: it runs no
   * code and holds no resources.
   */
  static boolean isRunning(long pid) {
    if (!ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) {
      return false;
    }
    try {
      String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
      int end = stat.lastIndexOf(')');
      return end < 0 || end + 2 >= stat.length() || (stat.charAt(end + 2) != 'Z' && stat.charAt(end + 2) != 'X');
    } catch (IOException | RuntimeException e) {
      return ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false); // no /proc, or it just went
    }
  }

  private static String describe(ProcessHandle process) {
    ProcessHandle.Info info = process.info();
    return "pid " + process.pid() + ": " + info.commandLine().orElseGet(() -> info.command().orElse("?"));
  }

  private static String read(Path file) {
    try {
      String text = Files.readString(file, StandardCharsets.UTF_8);
      return text.length() <= MAX_OUTPUT_CHARS ? text
          : "[... " + (text.length() - MAX_OUTPUT_CHARS) + " characters cut ...]\n"
              + text.substring(text.length() - MAX_OUTPUT_CHARS);
    } catch (IOException e) {
      return "<cannot read " + file + ": " + e + ">";
    }
  }

  private static java.io.File nullDevice() {
    return new java.io.File(System.getProperty("os.name").startsWith("Windows") ? "NUL" : "/dev/null");
  }
}
