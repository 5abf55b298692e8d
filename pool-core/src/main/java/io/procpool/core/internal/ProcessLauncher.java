package io.procpool.core.internal;

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
import java.util.concurrent.CompletableFuture;

/**
 * Starts worker JVMs with this JVM's {@code java} and classpath. The auth key goes to the worker's
 * standard input, which stays open so the worker sees end-of-file when this JVM dies. The worker's
 * stdout is inherited; its stderr is forwarded line by line to {@code System.err}, keeping the last
 * lines for error messages. JVM log output is kept off stdout.
 */
final class ProcessLauncher implements WorkerLauncher {
  private static final int TAIL_LINES = 30;

  private final String transport;
  private final String classpath;
  private final List<String> jvmOptions;
  private final byte[] authKey;
  private final int maxFrameSize;

  ProcessLauncher(String transport, String classpath, List<String> jvmOptions, byte[] authKey, int maxFrameSize) {
    this.transport = transport;
    this.classpath = classpath;
    this.jvmOptions = jvmOptions;
    this.authKey = authKey.clone();
    this.maxFrameSize = maxFrameSize;
  }

  List<String> command(int workerId, String address) {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.add("-Xlog:disable");
    cmd.add("-Xlog:all=warning:stderr");
    cmd.add("-XX:+ExitOnOutOfMemoryError");
    if (jvmOptions.stream().noneMatch(o -> o.startsWith("-XX:+Use") && o.endsWith("GC"))) {
      // One task at a time per worker: the serial collector starts fastest and is the best fit.
      cmd.add("-XX:+UseSerialGC");
    }
    cmd.add("-Dprocpool.worker=" + workerId);
    cmd.addAll(jvmOptions);
    cmd.add("-cp");
    cmd.add(classpath);
    cmd.add("io.procpool.core.WorkerMain");
    cmd.add("--transport");
    cmd.add(transport);
    cmd.add("--connect");
    cmd.add(address);
    cmd.add("--worker-id");
    cmd.add(Integer.toString(workerId));
    cmd.add("--parent-pid");
    cmd.add(Long.toString(ProcessHandle.current().pid()));
    cmd.add("--max-frame-size");
    cmd.add(Integer.toString(maxFrameSize));
    return cmd;
  }

  @Override
  public Launched launch(int workerId, String address) throws IOException {
    ProcessBuilder pb = new ProcessBuilder(command(workerId, address));
    pb.redirectInput(ProcessBuilder.Redirect.PIPE);
    pb.redirectOutput(ProcessBuilder.Redirect.INHERIT);
    pb.redirectError(ProcessBuilder.Redirect.PIPE);
    Process process = pb.start();
    OutputStream stdin = process.getOutputStream();
    try {
      stdin.write((Base64.getEncoder().encodeToString(authKey) + "\n").getBytes(StandardCharsets.US_ASCII));
      stdin.flush();
    } catch (IOException e) {
      process.destroyForcibly();
      throw new IOException("could not hand the auth key to worker " + workerId + ": " + e.getMessage(), e);
    }
    // stdin stays open for the life of the worker: its EOF tells the worker that we died.
    return new ProcessWorker(process, stdin, workerId);
  }

  private static final class ProcessWorker implements Launched {
    private final Process process;
    private final OutputStream stdin;
    private final ArrayDeque<String> tail = new ArrayDeque<>();
    private final CompletableFuture<Integer> exit;
    private final Thread pump;

    ProcessWorker(Process process, OutputStream stdin, int workerId) {
      this.process = process;
      this.stdin = stdin;
      this.pump = new Thread(this::pumpStderr, "procpool-worker-" + workerId + "-stderr");
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
        // the worker is gone
      }
    }

    @Override
    public long pid() {
      return process.pid();
    }

    @Override
    public CompletableFuture<Integer> onExit() {
      return exit;
    }

    @Override
    public void kill() {
      process.destroyForcibly();
    }

    @Override
    public String stderrTail() {
      synchronized (tail) {
        return String.join("\n", tail);
      }
    }
  }
}
