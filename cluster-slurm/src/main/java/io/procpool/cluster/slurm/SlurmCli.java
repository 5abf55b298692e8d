package io.procpool.cluster.slurm;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;
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
  /** The pool's environment, as far as the tools see it. */
  private final Map<String, String> environment;

  /** @param binDir the directory of the tools, or {@code null} for the {@code PATH} */
  SlurmCli(Path binDir) {
    this(binDir, Map.of());
  }

  /**
   * For tests: {@code extraEnvironment} is added to the pool's environment as the tools see it (e.g. a
   * canary that must not reach jobs).
   */
  SlurmCli(Path binDir, Map<String, String> extraEnvironment) {
    this.binDir = binDir;
    Map<String, String> env = new HashMap<>(System.getenv());
    env.putAll(extraEnvironment);
    this.environment = Map.copyOf(env);
  }

  /**
   * The part of the pool's environment that the tool may see when it should pass it on to jobs
   * ({@code sbatch --export=ALL}): the variables named by {@code keep} and those whose names start
   * with one of {@code keepPrefixes}.
   */
  Map<String, String> environment(Collection<String> keep, Collection<String> keepPrefixes) {
    Map<String, String> out = new TreeMap<>();
    environment.forEach((k, v) -> {
      if (keep.contains(k) || keepPrefixes.stream().anyMatch(k::startsWith)) {
        out.put(k, v);
      }
    });
    return out;
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
    return run(tool, args, environment, TIMEOUT);
  }

  /** {@link #run(String, List)} for at most {@code timeout}. */
  Result run(String tool, List<String> args, Duration timeout) throws IOException {
    return run(tool, args, environment, timeout);
  }

  /**
   * Runs {@code tool args} with exactly {@code env} as its environment, stdin empty.
   *
   * @throws IOException if it cannot be started or does not end within {@link #TIMEOUT}
   */
  Result run(String tool, List<String> args, Map<String, String> env) throws IOException {
    return run(tool, args, env, TIMEOUT);
  }

  /**
   * Runs {@code tool args} with exactly {@code env} as its environment, stdin empty, for at most
   * {@code timeout}.
   *
   * @throws IOException if it cannot be started or does not end in time
   */
  Result run(String tool, List<String> args, Map<String, String> env, Duration timeout) throws IOException {
    List<String> cmd = new ArrayList<>();
    cmd.add(executable(tool));
    cmd.addAll(args);
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
    pb.environment().clear();
    pb.environment().putAll(env);
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
      if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        p.destroyForcibly();
        throw new IOException("Slurm's " + tool + " did not answer within " + timeout.toMillis() + " ms: " + String.join(" ", cmd));
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
