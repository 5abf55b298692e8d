package io.procpool.core.internal.process;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * A child JVM of procpool (a pool worker or a manager), and the conventions both sides follow:
 *
 * <ul>
 *   <li>it runs this JVM's {@code java} with JVM logging kept off stdout
 *       ({@code -Xlog:disable -Xlog:all=warning:stderr}) and exits on OutOfMemoryError;
 *   <li>its secret (an auth key) is written to its standard input as one Base64 line, never put on
 *       the command line, followed by its transport properties (one line each, key and value in
 *       Base64, then an empty line: {@link PropertyLines}, {@link ParentLink#readProperties()}); the
 *       pipe then stays open, so the child sees end-of-file when this JVM dies
 *       ({@link ParentLink#exitWhenParentDies});
 *   <li>its stdout is inherited; its stderr is forwarded line by line to this JVM's
 *       {@code System.err}, and the last lines are kept for error messages ({@link #stderrTail()}).
 * </ul>
 *
 * <p>This is the parent side; the child side is {@link ParentLink} (usually through {@link ChildMain}).
 * Internal: for procpool's own modules only.
 */
public final class ChildJvm {
  private static final int TAIL_LINES = 30;
  private static final String SHADED_NETTY = "io.grpc.netty.shaded";

  private final Process process;
  private final ArrayDeque<String> tail = new ArrayDeque<>();
  private final CompletableFuture<Integer> exit;

  /**
   * @param onExit runs with the exit value before the exit is reported to anyone (the class-data
   *     archive's bookkeeping must be done before a replacement child is planned)
   */
  private ChildJvm(Process process, OutputStream stdin, String name, java.util.function.IntConsumer onExit) {
    this.process = process;
    Thread pump = new Thread(this::pumpStderr, name + "-stderr");
    pump.setDaemon(true);
    pump.start();
    this.exit = process.onExit().thenApply(p -> {
      try {
        pump.join(2000); // so that stderrTail() is complete when the exit is reported
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      try {
        stdin.close();
      } catch (IOException ignored) {
        // already gone
      }
      int code = p.exitValue();
      try {
        onExit.accept(code);
      } catch (RuntimeException e) {
        // bookkeeping only: the exit is reported whatever happens there
      }
      return code;
    });
  }

  /**
   * Starts a child JVM and hands it its secret and transport properties through standard input:
   * for example the TLS trust material it needs to reach its parent's server.
   *
   * @param name a short name for threads and messages, e.g. {@code procpool-worker-3}
   * @param mainClass the child's main class
   * @param plan how the child finds its classes ({@link LaunchPlan#detect})
   * @param jvmOptions options placed before the main class, after procpool's own
   * @param args the main class's arguments (never secrets)
   * @param secret written to the child's standard input
   * @param properties written to the child's standard input after the secret
   */
  public static ChildJvm start(String name, Class<?> mainClass, LaunchPlan plan, List<String> jvmOptions,
      List<String> args, byte[] secret, Map<String, String> properties) throws IOException {
    List<String> cmd = new ArrayList<>();
    cmd.add(java().toString());
    cmd.addAll(procpoolOptions(jvmOptions, plan.modular()
        && ModuleLayer.boot().findModule(SHADED_NETTY).isPresent() ? List.of(SHADED_NETTY) : List.of()));
    ClassDataArchive cds = plan.plainClasspath() == null
        ? ClassDataArchive.NONE
        : ClassDataArchive.plan(mainClass.getName(), plan.plainClasspath(), jvmOptions);
    cmd.addAll(cds.jvmOptions());
    cmd.addAll(jvmOptions);
    cmd.addAll(plan.command(mainClass, jvmOptions));
    cmd.addAll(args);
    ProcessBuilder pb = new ProcessBuilder(cmd);
    pb.redirectInput(ProcessBuilder.Redirect.PIPE);
    pb.redirectOutput(ProcessBuilder.Redirect.INHERIT);
    pb.redirectError(ProcessBuilder.Redirect.PIPE);
    Process process = pb.start();
    OutputStream stdin = process.getOutputStream();
    try {
      stdin.write((Base64.getEncoder().encodeToString(secret) + "\n").getBytes(StandardCharsets.US_ASCII));
      stdin.write(encodeProperties(properties));
      stdin.flush();
    } catch (IOException e) {
      process.destroyForcibly();
      throw new IOException("could not hand the auth key to " + name + ": " + e.getMessage(), e);
    }
    return new ChildJvm(process, stdin, name, cds::onExit);
  }

  /** This JVM's {@code java} executable, which children run. */
  public static Path java() {
    return Path.of(System.getProperty("java.home"), "bin", "java");
  }

  /**
   * procpool's own options for a child JVM, placed before {@code jvmOptions} (the transport's and the
   * user's): JVM logging on stderr, exit on OutOfMemoryError, the serial collector unless one is
   * chosen, and {@link #quietOptions}.
   */
  public static List<String> procpoolOptions(List<String> jvmOptions, List<String> nativeModules) {
    List<String> cmd = new ArrayList<>();
    cmd.add("-Xlog:disable");
    cmd.add("-Xlog:all=warning:stderr");
    cmd.add("-XX:+ExitOnOutOfMemoryError");
    if (jvmOptions.stream().noneMatch(o -> o.startsWith("-XX:+Use") && o.endsWith("GC"))) {
      // A child runs one thing at a time: the serial collector starts fastest and fits best.
      cmd.add("-XX:+UseSerialGC");
    }
    cmd.addAll(quietOptions(Runtime.version().feature(), jvmOptions, nativeModules));
    return cmd;
  }

  /**
   * Options that keep a child JVM from printing warnings its parent's user cannot act on: on JDK 22+
   * native access for the classpath (gRPC's Netty loads its epoll library; JDK 24+ warns about JNI
   * otherwise), and on JDK 23+ {@code sun.misc.Unsafe} memory access (Netty and protobuf use it;
   * JDK 24+ warns on first use). Whatever the user set on these options wins.
   *
   * @param nativeModules named modules that need native access too (gRPC's shaded Netty on the module path)
   */
  static List<String> quietOptions(int feature, List<String> jvmOptions, List<String> nativeModules) {
    List<String> quiet = new ArrayList<>(2);
    if (feature >= 22 && jvmOptions.stream().noneMatch(o -> o.startsWith("--enable-native-access"))) {
      List<String> modules = new ArrayList<>(nativeModules);
      modules.add(0, "ALL-UNNAMED");
      quiet.add("--enable-native-access=" + String.join(",", modules));
    }
    if (feature >= 23 && jvmOptions.stream().noneMatch(o -> o.startsWith("--sun-misc-unsafe-memory-access"))) {
      quiet.add("--sun-misc-unsafe-memory-access=allow");
    }
    return quiet;
  }

  /** The properties block: {@link PropertyLines}, then an empty line. */
  static byte[] encodeProperties(Map<String, String> properties) {
    return PropertyLines.append(new StringBuilder(), properties).append('\n').toString()
        .getBytes(StandardCharsets.US_ASCII);
  }

  private void pumpStderr() {
    try (BufferedReader r = new BufferedReader(
        new InputStreamReader(process.getErrorStream(), StandardCharsets.UTF_8))) {
      String line;
      while ((line = r.readLine()) != null) {
        System.err.println(line);
        synchronized (tail) {
          if (tail.size() == TAIL_LINES) {
            tail.removeFirst();
          }
          tail.addLast(line);
        }
      }
    } catch (IOException ignored) {
      // the child is gone
    }
  }

  /** The child's pid. */
  public long pid() {
    return process.pid();
  }

  /** Completes with the exit code (128 + n for signal n) once the child has exited. */
  public CompletableFuture<Integer> onExit() {
    return exit;
  }

  /** Kills the child now (SIGKILL). */
  public void kill() {
    process.destroyForcibly();
  }

  /** The last lines the child wrote to stderr; empty if none. */
  public String stderrTail() {
    synchronized (tail) {
      return String.join("\n", tail);
    }
  }
}
