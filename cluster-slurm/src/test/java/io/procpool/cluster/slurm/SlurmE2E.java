package io.procpool.cluster.slurm;

import io.procpool.cluster.slurm.testing.SlurmTestCluster;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * What the end-to-end Slurm tests share: condition-waits, tasks that tell where they run and hold until
 * the test releases them (through files on the shared staging directory), and a {@code bin} directory
 * whose {@code sbatch} records its arguments before running the real one.
 */
final class SlurmE2E {
  /** How long any condition may take (generous: the machine is small and the cluster shared). */
  static final Duration WAIT = Duration.ofSeconds(90);

  private static final String ALL_RELEASED = "all.release";

  private SlurmE2E() {}

  /** Waits until condition holds, polling every 50 ms, at most {@code timeout}. */
  static void await(String what, Duration timeout, BooleanSupplier condition) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() - deadline > 0) {
        throw new AssertionError("timed out after " + timeout + " waiting until " + what);
      }
      Thread.sleep(50); // a condition-wait
    }
  }

  /** The worker's launch id and host, as {@code <launch id> <host>}: runs in a worker. */
  static String where() throws IOException {
    return System.getenv("PROCPOOL_LAUNCH_ID") + " " + hostname();
  }

  /**
   * This host's name, as {@code hostname} prints it (the kernel's, per UTS namespace: n1 and n2 have
   * their own). Not {@code InetAddress.getLocalHost().getHostName()}: that resolves the name, and the
   * test nodes' names are in no resolver.
   */
  static String hostname() throws IOException {
    return Files.readString(Path.of("/proc/sys/kernel/hostname")).strip();
  }

  /**
   * Runs in a worker: writes {@code <name>.at} ({@link #where()}), then holds until the test creates
   * {@code <name>.release} or calls {@link #releaseAll} (at most 2 minutes), and returns {@link #where()}.
   */
  static String holdUntilReleased(String dir, String name) throws Exception {
    Path d = Path.of(dir);
    Path tmp = d.resolve(name + ".at.tmp");
    Files.writeString(tmp, where());
    Files.move(tmp, d.resolve(name + ".at"), StandardCopyOption.ATOMIC_MOVE);
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(2);
    while (!Files.exists(d.resolve(name + ".release")) && !Files.exists(d.resolve(ALL_RELEASED))) {
      if (System.nanoTime() - deadline > 0) {
        throw new IllegalStateException("task " + name + " was never released");
      }
      Thread.sleep(20);
    }
    return where();
  }

  /** Waits until the task {@code name} of {@link #holdUntilReleased} runs; returns its {@link #where()}. */
  static String awaitHeld(Path dir, String name) throws Exception {
    Path at = dir.resolve(name + ".at");
    await("task " + name + " runs", WAIT, () -> Files.exists(at));
    return Files.readString(at);
  }

  /** Lets every task of {@link #holdUntilReleased} in dir return (so that a failed test's pool closes at once). */
  static void releaseAll(Path dir) throws IOException {
    Files.writeString(dir.resolve(ALL_RELEASED), "");
  }

  /** Lets task {@code name} of {@link #holdUntilReleased} return. */
  static void release(Path dir, String name) throws IOException {
    Files.writeString(dir.resolve(name + ".release"), "");
  }

  /** A directory for task files (0777: the workers may run as another user). */
  static Path taskDir(Path parent) throws IOException {
    Path d = Files.createDirectories(parent.resolve("tasks"));
    Files.setPosixFilePermissions(d, PosixFilePermissions.fromString("rwxrwxrwx"));
    return d;
  }

  /**
   * A directory of Slurm commands for {@link SlurmCluster.Builder#commands}: {@code squeue} and
   * {@code scancel} are the real ones, {@code sbatch} appends its arguments (one line per call) to
   * {@code sbatch.log} next to it and runs the real one.
   */
  static Path recordingCommands(Path parent) throws IOException {
    Path bin = Files.createDirectories(parent.resolve("bin"));
    for (String c : List.of("squeue", "scancel")) {
      Files.createSymbolicLink(bin.resolve(c), which(c));
    }
    Path sbatch = bin.resolve("sbatch");
    Files.writeString(sbatch, "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '" + bin.resolve("sbatch.log") + "'\nexec '"
        + which("sbatch") + "' \"$@\"\n", StandardCharsets.UTF_8);
    Files.setPosixFilePermissions(sbatch, PosixFilePermissions.fromString("rwx------"));
    return bin;
  }

  /** The lines {@link #recordingCommands}' sbatch recorded. */
  static List<String> sbatchCalls(Path bin) throws IOException {
    Path log = bin.resolve("sbatch.log");
    return Files.exists(log) ? Files.readAllLines(log) : List.of();
  }

  private static Path which(String command) {
    for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":")) {
      Path p = Path.of(dir, command);
      if (!dir.isEmpty() && Files.isExecutable(p)) {
        return p.toAbsolutePath();
      }
    }
    throw new IllegalStateException(command + " is not on the PATH");
  }

  /**
   * The transport properties in the handover file of the one pool session under a staging directory, as
   * {@link io.procpool.api.cluster.WorkerCommand#handover(java.util.Map)} encodes them (first line the key,
   * then one base64 name and base64 value per line).
   */
  static java.util.Map<String, String> handoverProperties(Path stagingDir) throws IOException {
    List<Path> sessions;
    try (java.util.stream.Stream<Path> s = Files.list(stagingDir)) {
      sessions = s.filter(p -> p.getFileName().toString().startsWith("procpool-") && Files.isDirectory(p)).toList();
    }
    if (sessions.size() != 1) {
      throw new AssertionError("expected one session directory in " + stagingDir + ": " + sessions);
    }
    java.util.Base64.Decoder b64 = java.util.Base64.getDecoder();
    java.util.Map<String, String> props = new java.util.TreeMap<>();
    List<String> lines = Files.readAllLines(sessions.get(0).resolve("handover"), StandardCharsets.US_ASCII);
    for (String line : lines.subList(1, lines.size())) {
      String[] kv = line.split(" ");
      if (kv.length == 2) {
        props.put(new String(b64.decode(kv[0]), StandardCharsets.UTF_8), new String(b64.decode(kv[1]), StandardCharsets.UTF_8));
      }
    }
    return props;
  }

  /** Runs a Slurm command that must succeed (e.g. {@code scancel}); returns its output. */
  static String slurm(String... command) {
    SlurmTestCluster.CommandResult r = SlurmTestCluster.run(List.of(command), Duration.ofSeconds(20));
    if (r.exitCode() != 0) {
      throw new IllegalStateException(String.join(" ", command) + " exited with " + r.exitCode() + ": " + r.output());
    }
    return r.output();
  }

  /** The launch ids (squeue's {@code %i}) of the jobs Slurm has not finished with, of this JVM's pools. */
  static List<String> liveJobIds() {
    return SlurmTestCluster.jobs(SlurmTestCluster.poolJobPrefix()).stream().map(SlurmTestCluster.Job::id).toList();
  }

  /**
   * Cleans up after a test that failed half-way: cancels this JVM's pool jobs and waits for Slurm.
   *
   * @return the jobs that were left (empty when the test cleaned up itself)
   */
  static List<SlurmTestCluster.Job> cancelLeftovers() {
    String prefix = SlurmTestCluster.poolJobPrefix();
    List<SlurmTestCluster.Job> left = SlurmTestCluster.jobs(prefix);
    if (!left.isEmpty()) {
      SlurmTestCluster.cancelJobs(prefix);
      SlurmTestCluster.awaitNoJobs(prefix, WAIT);
    }
    return left;
  }
}
