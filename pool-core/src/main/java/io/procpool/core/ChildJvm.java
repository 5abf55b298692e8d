package io.procpool.core;

import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.StandardOpenOption;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;

/**
 * A child JVM of procpool (a pool worker or a manager), and the conventions both sides follow:
 *
 * <ul>
 *   <li>it runs this JVM's {@code java} with JVM logging kept off stdout
 *       ({@code -Xlog:disable -Xlog:all=warning:stderr}) and exits on OutOfMemoryError;
 *   <li>its secret (an auth key) is written to its standard input as one Base64 line, never put on
 *       the command line, followed by its transport properties (one line each, key and value in
 *       Base64, then an empty line; {@link ParentLink#readProperties()}); the pipe then stays open, so the child sees end-of-file when this JVM dies
 *       ({@link ParentLink#exitWhenParentDies});
 *   <li>its stdout is inherited; its stderr is forwarded line by line to this JVM's
 *       {@code System.err}, and the last lines are kept for error messages ({@link #stderrTail()}).
 * </ul>
 *
 * <p>For procpool's own modules; applications do not need it.
 */
public final class ChildJvm {
  private static final int TAIL_LINES = 30;
  private static final long PARENT_POLL_MILLIS = 200;

  private final Process process;
  private final ArrayDeque<String> tail = new ArrayDeque<>();
  private final CompletableFuture<Integer> exit;

  private ChildJvm(Process process, OutputStream stdin, String name) {
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
      return p.exitValue();
    });
  }

  /**
   * Starts a child JVM.
   *
   * @param name a short name for threads and messages, e.g. {@code procpool-worker-3}
   * @param mainClass the child's main class
   * @param classpath its classpath
   * @param jvmOptions options placed before the main class, after procpool's own
   * @param args the main class's arguments (never secrets)
   * @param secret written to the child's standard input
   */
  public static ChildJvm start(String name, String mainClass, String classpath, List<String> jvmOptions,
      List<String> args, byte[] secret) throws IOException {
    return start(name, mainClass, classpath, jvmOptions, args, secret, Map.of());
  }

  /**
   * Starts a child JVM and hands it transport properties too, through standard input like the
   * secret: for example the TLS trust material it needs to reach its parent's server.
   *
   * @param name a short name for threads and messages, e.g. {@code procpool-worker-3}
   * @param mainClass the child's main class
   * @param classpath its classpath
   * @param jvmOptions options placed before the main class, after procpool's own
   * @param args the main class's arguments (never secrets)
   * @param secret written to the child's standard input
   * @param properties written to the child's standard input after the secret
   */
  public static ChildJvm start(String name, String mainClass, String classpath, List<String> jvmOptions,
      List<String> args, byte[] secret, Map<String, String> properties) throws IOException {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.add("-Xlog:disable");
    cmd.add("-Xlog:all=warning:stderr");
    cmd.add("-XX:+ExitOnOutOfMemoryError");
    if (jvmOptions.stream().noneMatch(o -> o.startsWith("-XX:+Use") && o.endsWith("GC"))) {
      // A child runs one thing at a time: the serial collector starts fastest and fits best.
      cmd.add("-XX:+UseSerialGC");
    }
    ClassDataArchive cds = ClassDataArchive.plan(mainClass, classpath, jvmOptions);
    cmd.addAll(cds.jvmOptions());
    cmd.addAll(jvmOptions);
    cmd.add("-cp");
    cmd.add(classpath);
    cmd.add(mainClass);
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
    ChildJvm child = new ChildJvm(process, stdin, name);
    child.exit.thenAccept(cds::onExit);
    return child;
  }

  /** The properties block: {@code base64(key) SP base64(value)} lines, then an empty line. */
  static byte[] encodeProperties(Map<String, String> properties) {
    StringBuilder sb = new StringBuilder();
    Base64.Encoder b64 = Base64.getEncoder();
    properties.forEach((k, v) -> sb.append(b64.encodeToString(k.getBytes(StandardCharsets.UTF_8))).append(' ')
        .append(b64.encodeToString(v.getBytes(StandardCharsets.UTF_8))).append('\n'));
    return sb.append('\n').toString().getBytes(StandardCharsets.US_ASCII);
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

  // ---------------------------------------------------------------- child side

  /**
   * Child side: the link to the parent through standard input. Read the secret with
   * {@link #readSecret()}, then {@link #exitWhenParentDies(long)}; {@link #close()} it before a normal
   * exit.
   *
   * <p>Standard input is reopened as a {@link FileChannel} where the platform allows it, so that
   * {@code close()} can stop the thread blocked reading it: at exit, HotSpot waits up to 300 ms for
   * threads blocked in native code, which made every worker's exit that much slower.
   */
  public static final class ParentLink implements java.io.Closeable {
    private final FileChannel channel;
    private final InputStream in;
    private volatile boolean closed;
    private Thread poll;

    private ParentLink(FileChannel channel, InputStream in) {
      this.channel = channel;
      this.in = in;
    }

    /** Reads the secret line the parent wrote. */
    public byte[] readSecret() throws IOException {
      return ChildJvm.readSecret(in);
    }

    /**
     * Reads the transport properties the parent wrote after the secret (call after
     * {@link #readSecret()}, before {@link #exitWhenParentDies}).
     */
    public Map<String, String> readProperties() throws IOException {
      Map<String, String> properties = new LinkedHashMap<>();
      Base64.Decoder b64 = Base64.getDecoder();
      while (true) {
        String line = readLine(in, 1 << 20);
        if (line == null) {
          throw new IOException("standard input closed before the transport properties arrived (parent gone?)");
        }
        if (line.isEmpty()) {
          return properties;
        }
        int sp = line.indexOf(' ');
        if (sp <= 0) {
          throw new IOException("malformed transport property line from the parent");
        }
        properties.put(new String(b64.decode(line.substring(0, sp)), StandardCharsets.UTF_8),
            new String(b64.decode(line.substring(sp + 1)), StandardCharsets.UTF_8));
      }
    }

    /**
     * Halts this JVM when the parent dies: when standard input (whose other end only the parent
     * holds) reaches end-of-file, or when the parent pid is gone (a reused pid does not count as
     * alive: {@link ProcessHandle#isAlive()} checks the start time). Starts two daemon threads.
     */
    public void exitWhenParentDies(long parentPid) {
      Optional<ProcessHandle> parent = ProcessHandle.of(parentPid);
      if (parent.isEmpty()) {
        Runtime.getRuntime().halt(1);
        return;
      }
      Thread eof = new Thread(new Runnable() {
        @Override
        public void run() {
          try {
            byte[] sink = new byte[256];
            while (in.read(sink) != -1) {
              // nothing is expected after the secret
            }
          } catch (IOException ignored) {
            // treated as end-of-file, unless we closed it ourselves
          }
          if (!closed) {
            Runtime.getRuntime().halt(1);
          }
        }
      }, "procpool-parent-eof");
      eof.setDaemon(true);
      eof.start();
      ProcessHandle p = parent.get();
      poll = new Thread(new Runnable() {
        @Override
        public void run() {
          while (!closed) {
            try {
              Thread.sleep(PARENT_POLL_MILLIS);
            } catch (InterruptedException e) {
              return;
            }
            if (!closed && !p.isAlive()) {
              Runtime.getRuntime().halt(1);
            }
          }
        }
      }, "procpool-parent-watch");
      poll.setDaemon(true);
      poll.start();
    }

    /** Stops watching the parent, before a normal exit. */
    @Override
    public void close() {
      closed = true;
      if (poll != null) {
        poll.interrupt();
      }
      if (channel != null) {
        try {
          channel.close(); // wakes the thread blocked reading it
        } catch (IOException ignored) {
          // exiting anyway
        }
      }
    }
  }

  /** Child side: opens the link to the parent on standard input. */
  public static ParentLink parentLink() {
    try {
      FileChannel ch = FileChannel.open(Path.of("/proc/self/fd/0"), StandardOpenOption.READ);
      return new ParentLink(ch, Channels.newInputStream(ch));
    } catch (IOException | RuntimeException e) {
      return new ParentLink(null, System.in);
    }
  }

  /** Reads the secret line a parent wrote to {@code stdin}. */
  static byte[] readSecret(InputStream stdin) throws IOException {
    String line = readLine(stdin, 4096);
    if (line == null) {
      throw new IOException("standard input closed before the auth key arrived (parent gone?)");
    }
    return Base64.getDecoder().decode(line.trim());
  }

  /** One line (without its newline), or null at end-of-file; unbuffered, so nothing beyond it is consumed. */
  private static String readLine(InputStream stdin, int max) throws IOException {
    ByteArrayOutputStream line = new ByteArrayOutputStream(64);
    while (true) {
      int b = stdin.read();
      if (b == -1) {
        return null;
      }
      if (b == '\n') {
        return line.toString(StandardCharsets.US_ASCII);
      }
      if (line.size() > max) {
        throw new IOException("line from the parent too long (more than " + max + " bytes)");
      }
      line.write(b);
    }
  }
}
