package io.procpool.cluster.slurm;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/** Runs Slurm's command-line tools, from a given directory or the {@code PATH}. */
final class SlurmCli {
  /** How long a Slurm command may take (slurmctld answers in milliseconds; its own timeouts are longer). */
  static final Duration TIMEOUT = Duration.ofSeconds(60);

  /** What a command did. */
  record Result(int exitCode, String stdout, String stderr) {
    /** stderr, else stdout, trimmed, for messages. */
    String message() {
      String s = stderr.strip();
      return s.isEmpty() ? stdout.strip() : s;
    }
  }

  private final Path binDir;
  private final java.util.Map<String, String> extraEnvironment;

  /** @param binDir the directory of the tools, or {@code null} for the {@code PATH} */
  SlurmCli(Path binDir) {
    this(binDir, java.util.Map.of());
  }

  /** For tests: {@code extraEnvironment} is added to the tools' environment (e.g. a canary that must not reach jobs). */
  SlurmCli(Path binDir, java.util.Map<String, String> extraEnvironment) {
    this.binDir = binDir;
    this.extraEnvironment = java.util.Map.copyOf(extraEnvironment);
  }

  /** The executable for {@code tool} as run. */
  String executable(String tool) {
    return binDir == null ? tool : binDir.resolve(tool).toString();
  }

  /**
   * Runs {@code tool args}, stdin empty.
   *
   * @throws IOException if it cannot be started or does not end within {@link #TIMEOUT}
   */
  Result run(String tool, List<String> args) throws IOException {
    List<String> cmd = new ArrayList<>();
    cmd.add(executable(tool));
    cmd.addAll(args);
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
    pb.environment().putAll(extraEnvironment);
    Process p;
    try {
      p = pb.start();
    } catch (IOException e) {
      throw new IOException("cannot run Slurm's " + tool + " (" + executable(tool) + "): " + e.getMessage()
          + (binDir == null ? "; is the Slurm client installed and on the PATH? (or set SlurmCluster.builder().commands(dir))" : ""), e);
    }
    // Own threads, not a shared pool: they block on the pipes.
    CompletableFuture<byte[]> err = reader(p.getErrorStream(), tool);
    CompletableFuture<byte[]> out = reader(p.getInputStream(), tool);
    try {
      if (!p.waitFor(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
        p.destroyForcibly();
        throw new IOException("Slurm's " + tool + " did not answer within " + TIMEOUT.toSeconds() + " s: " + String.join(" ", cmd));
      }
      String o = new String(out.get(10, TimeUnit.SECONDS), StandardCharsets.UTF_8);
      String e = new String(err.get(10, TimeUnit.SECONDS), StandardCharsets.UTF_8);
      return new Result(p.exitValue(), o, e);
    } catch (InterruptedException e) {
      p.destroyForcibly();
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while waiting for Slurm's " + tool, e);
    } catch (ExecutionException | TimeoutException e) {
      p.destroyForcibly();
      throw new IOException("cannot read the output of Slurm's " + tool + ": " + e, e);
    }
  }

  private static CompletableFuture<byte[]> reader(InputStream in, String tool) {
    CompletableFuture<byte[]> f = new CompletableFuture<>();
    Thread t = new Thread(() -> {
      try {
        f.complete(readAll(in));
      } catch (RuntimeException e) {
        f.completeExceptionally(e);
      }
    }, "procpool-slurm-" + tool);
    t.setDaemon(true);
    t.start();
    return f;
  }

  private static byte[] readAll(InputStream in) {
    try (in) {
      ByteArrayOutputStream b = new ByteArrayOutputStream();
      in.transferTo(b);
      return b.toByteArray();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
