package io.procpool.cluster.slurm.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipal;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * The Slurm test cluster of {@code cluster-slurm/src/test/slurm/} (brought up by {@code up.sh}), for
 * tests: its partitions and nodes, the jobs of a test (by name prefix), cutting a node off, running a
 * command as the non-root user {@value #NON_ROOT_USER}, and staging directories.
 *
 * <p>The cluster is shared: a test names every job it submits with its own {@link #uniqueJobPrefix
 * prefix} (which starts with {@value #JOB_NAME_PREFIX}) and cancels only those ({@link #cancelJobs}),
 * e.g. in {@code @AfterEach}. Slurm commands are run with a timeout; one that fails or times out throws
 * an {@link IllegalStateException} with the command and its output.
 */
public final class SlurmTestCluster {

  /** The default partition: one node, named as this host ({@code hostname -s}), on loopback. */
  public static final String LOCAL_PARTITION = "local";

  /** The partition of nodes {@code n1} and {@code n2}, each in its own network namespace. */
  public static final String NET_PARTITION = "net";

  /** Every job a test submits has a name that starts with this. */
  public static final String JOB_NAME_PREFIX = "procpool-test-";

  /** The non-root user CI creates for tests that submit as a normal user. */
  public static final String NON_ROOT_USER = "procpool-ci";

  private static final Duration COMMAND_TIMEOUT = Duration.ofSeconds(10);
  private static final Duration PROBE_TIMEOUT = Duration.ofSeconds(5);
  private static final Set<String> RESPONDING_STATES = Set.of("idle", "mixed", "allocated", "completing");
  private static volatile Probe probe;

  private SlurmTestCluster() {}

  // ------------------------------------------------------------------------------------- probe

  /**
   * Whether the cluster is usable, and why (not): {@code detail} is the node list when it is, the reason
   * when it is not.
   *
   * @param usable both partitions have a node that answers
   * @param detail what was found, for messages
   */
  public record Probe(boolean usable, String detail) {}

  /**
   * Probes the cluster once per JVM ({@code sinfo}, 5 s timeout) and returns the cached result: usable
   * when partitions {@value #LOCAL_PARTITION} and {@value #NET_PARTITION} each have a node that answers.
   */
  public static Probe probe() {
    Probe p = probe;
    if (p == null) {
      synchronized (SlurmTestCluster.class) {
        if (probe == null) {
          probe = probe("sinfo");
        }
        p = probe;
      }
    }
    return p;
  }

  /** Probes with the given {@code sinfo} command (a test hook). */
  static Probe probe(String sinfo) {
    CommandResult r;
    try {
      r = run(List.of(sinfo, "-h", "-N", "-o", "%N|%P|%T"), PROBE_TIMEOUT);
    } catch (IllegalStateException e) {
      return new Probe(false, e.getMessage());
    }
    if (r.exitCode() != 0) {
      return new Probe(false, "'" + sinfo + "' exited with " + r.exitCode() + ": " + r.output().strip());
    }
    return parseSinfo(r.output());
  }

  /** Judges {@code sinfo -h -N -o %N|%P|%T} output. */
  static Probe parseSinfo(String output) {
    List<String> answering = new ArrayList<>();
    Set<String> partitionsAnswering = new TreeSet<>();
    List<String> all = new ArrayList<>();
    for (String line : output.strip().split("\n")) {
      String[] f = line.strip().split("\\|");
      if (f.length != 3) {
        continue;
      }
      String partition = f[1].endsWith("*") ? f[1].substring(0, f[1].length() - 1) : f[1];
      all.add(f[0] + "(" + partition + "):" + f[2]);
      if (RESPONDING_STATES.contains(f[2])) {
        answering.add(f[0] + "(" + partition + ")");
        partitionsAnswering.add(partition);
      }
    }
    if (all.isEmpty()) {
      return new Probe(false, "sinfo lists no nodes");
    }
    for (String needed : List.of(LOCAL_PARTITION, NET_PARTITION)) {
      if (!partitionsAnswering.contains(needed)) {
        return new Probe(false, "no node of partition '" + needed + "' answers; sinfo: " + all);
      }
    }
    return new Probe(true, "nodes " + answering);
  }

  // ----------------------------------------------------------------------------- nodes, jobs

  /** The host names of the nodes of a partition, sorted ({@code sinfo -N -p}). */
  public static List<String> hostnames(String partition) {
    String out = check(List.of("sinfo", "-h", "-N", "-p", partition, "-o", "%n"), COMMAND_TIMEOUT);
    return out.lines().map(String::strip).filter(s -> !s.isEmpty()).distinct().sorted().toList();
  }

  /**
   * A job as {@code squeue} shows it.
   *
   * @param id job id, {@code 12_3} for an array task
   * @param name job name
   * @param state e.g. PENDING, RUNNING, COMPLETING, CANCELLED
   * @param reason why it is in that state ({@code None} if nothing to say)
   * @param nodes nodes it runs on (empty while pending)
   * @param user who submitted it
   */
  public record Job(String id, String name, String state, String reason, String nodes, String user) {}

  /**
   * A name prefix for the jobs of one test: {@value #JOB_NAME_PREFIX}, the test's name, a random part,
   * and a dash.
   */
  public static String uniqueJobPrefix(String testName) {
    String clean = testName.replaceAll("[^A-Za-z0-9_.-]", "_");
    return JOB_NAME_PREFIX + clean + "-" + UUID.randomUUID().toString().substring(0, 8) + "-";
  }

  /** The jobs Slurm has not finished with (pending, running, completing...) whose name starts with prefix. */
  public static List<Job> jobs(String namePrefix) {
    return squeue(namePrefix, false);
  }

  /**
   * The jobs whose name starts with prefix, including those that ended within the last minute or so
   * ({@code squeue -t all}; the cluster keeps ended jobs for {@code MinJobAge=60} s).
   */
  public static List<Job> jobsIncludingEnded(String namePrefix) {
    return squeue(namePrefix, true);
  }

  private static List<Job> squeue(String namePrefix, boolean includeEnded) {
    checkPrefix(namePrefix);
    List<String> cmd = new ArrayList<>(List.of("squeue", "-h", "-o", "%i|%j|%T|%r|%N|%u"));
    if (includeEnded) {
      cmd.addAll(List.of("-t", "all"));
    }
    return parseSqueue(check(cmd, COMMAND_TIMEOUT), namePrefix);
  }

  /** Parses {@code squeue -h -o %i|%j|%T|%r|%N|%u} output, keeping the jobs whose name starts with prefix. */
  static List<Job> parseSqueue(String output, String namePrefix) {
    List<Job> jobs = new ArrayList<>();
    for (String line : output.split("\n")) {
      String[] f = line.strip().split("\\|", -1);
      if (f.length == 6 && f[1].startsWith(namePrefix)) {
        jobs.add(new Job(f[0], f[1], f[2], f[3], f[4], f[5]));
      }
    }
    return jobs;
  }

  /**
   * Waits until no job whose name starts with prefix is left in {@code squeue} (not even completing).
   *
   * @throws AssertionError with the jobs left if they are still there after timeout
   */
  public static void awaitNoJobs(String namePrefix, Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    List<Job> left = jobs(namePrefix);
    while (!left.isEmpty()) {
      if (System.nanoTime() - deadline > 0) {
        throw new AssertionError("Slurm jobs '" + namePrefix + "*' still there after " + timeout + ": " + left);
      }
      pause(100);
      left = jobs(namePrefix);
    }
  }

  /**
   * Cancels every job ({@code scancel}) whose name starts with prefix and that Slurm has not finished
   * with; returns how many. Does not wait: follow with {@link #awaitNoJobs}.
   */
  public static int cancelJobs(String namePrefix) {
    List<Job> jobs = jobs(namePrefix);
    if (!jobs.isEmpty()) {
      List<String> cmd = new ArrayList<>(List.of("scancel"));
      jobs.forEach(j -> cmd.add(j.id()));
      check(cmd, COMMAND_TIMEOUT);
    }
    return jobs.size();
  }

  /**
   * The name prefix of the jobs that the pools of this JVM submit ({@code procpool-<pid>-}, as the pool
   * names them {@code procpool-<pid>-<pool id>}): accepted by {@link #jobs}, {@link #awaitNoJobs} and
   * {@link #cancelJobs} like a {@link #uniqueJobPrefix}.
   */
  public static String poolJobPrefix() {
    return poolJobPrefix(ProcessHandle.current().pid());
  }

  /**
   * The name prefix of the jobs that the pools of process {@code pid} submit: accepted by {@link #jobs},
   * {@link #awaitNoJobs} and {@link #cancelJobs} when {@code pid} is this JVM or one of its descendants
   * (e.g. a JVM started with {@link #runAsNonRoot}) while it runs.
   */
  public static String poolJobPrefix(long pid) {
    return "procpool-" + pid + "-";
  }

  /** The jobs of {@value #NON_ROOT_USER} whose name starts with prefix (any prefix: only tests submit as that user). */
  public static List<Job> nonRootJobs(String namePrefix) {
    String out = check(List.of("squeue", "-h", "-u", NON_ROOT_USER, "-o", "%i|%j|%T|%r|%N|%u"), COMMAND_TIMEOUT);
    return parseSqueue(out, namePrefix);
  }

  private static void checkPrefix(String namePrefix) {
    if (namePrefix != null && isPoolPrefixOfThisJvm(namePrefix)) {
      return;
    }
    if (namePrefix == null || !namePrefix.startsWith(JOB_NAME_PREFIX) || namePrefix.length() <= JOB_NAME_PREFIX.length()) {
      throw new IllegalArgumentException(
          "job name prefix must start with '" + JOB_NAME_PREFIX + "' and name the test (the cluster is shared;"
              + " see uniqueJobPrefix), or be poolJobPrefix() of this JVM or a process it started: '" + namePrefix + "'");
    }
  }

  /** {@code procpool-<pid>-}, pid this JVM or a running descendant of it. */
  static boolean isPoolPrefixOfThisJvm(String namePrefix) {
    java.util.regex.Matcher m = java.util.regex.Pattern.compile("procpool-([0-9]+)-").matcher(namePrefix);
    if (!m.matches()) {
      return false;
    }
    long pid = Long.parseLong(m.group(1));
    ProcessHandle self = ProcessHandle.current();
    return pid == self.pid() || self.descendants().anyMatch(h -> h.pid() == pid);
  }

  /**
   * Cuts node {@code n1} or {@code n2} off the network ({@code node.sh down}): slurmctld and the pool no
   * longer reach it; its processes keep running. Needs root. Undo with {@link #reconnect}.
   */
  public static void cutOff(String node) {
    nodeScript("down", node);
  }

  /**
   * Reconnects a node {@link #cutOff cut off}; returns when slurmctld sees it answer again (then it kills
   * the processes of the jobs it ended meanwhile). Needs root.
   */
  public static void reconnect(String node) {
    nodeScript("up", node);
  }

  private static void nodeScript(String action, String node) {
    if (!List.of("n1", "n2").contains(node)) {
      throw new IllegalArgumentException("only nodes n1 and n2 (partition net) can be cut off, not '" + node + "'");
    }
    Path script = scriptsDirectory().resolve("node.sh");
    check(List.of(script.toString(), action, node), Duration.ofSeconds(120));
  }

  /**
   * The directory of {@code up.sh}, {@code down.sh} and {@code node.sh}: system property
   * {@code procpool.slurm.scripts} if set, else {@code src/test/slurm} of this module found from the
   * working directory (the module or the repository root).
   */
  public static Path scriptsDirectory() {
    String property = System.getProperty("procpool.slurm.scripts");
    List<Path> candidates = property != null
        ? List.of(Path.of(property))
        : List.of(Path.of("src/test/slurm"), Path.of("cluster-slurm/src/test/slurm"));
    for (Path c : candidates) {
      if (Files.isRegularFile(c.resolve("node.sh"))) {
        return c.toAbsolutePath();
      }
    }
    throw new IllegalStateException("Slurm test scripts not found in " + candidates + " (working directory "
        + Path.of("").toAbsolutePath() + "); set -Dprocpool.slurm.scripts=DIR");
  }

  // ----------------------------------------------------------------------- non-root, staging

  /** Whether this JVM runs as root. */
  public static boolean isRoot() {
    return "root".equals(System.getProperty("user.name"));
  }

  /** Whether the user {@value #NON_ROOT_USER} exists on this machine ({@code id -u}). */
  public static boolean nonRootUserExists() {
    return run(List.of("id", "-u", NON_ROOT_USER), COMMAND_TIMEOUT).exitCode() == 0;
  }

  /**
   * Runs a command as {@value #NON_ROOT_USER} ({@code runuser -u}) in {@code /tmp}; stdout and stderr
   * together. Needs root and the user.
   * The user cannot read a 0700 directory of root (the CI clone is in one): copy what the command needs
   * with {@link #nonRootStagingDirectory} and {@link #copyClasspath} first.
   *
   * @throws IllegalStateException if not root, the user is missing, or it did not end within timeout (it is
   *     then killed with its descendants)
   */
  public static CommandResult runAsNonRoot(List<String> command, Duration timeout) {
    if (!isRoot()) {
      throw new IllegalStateException("runAsNonRoot needs root; this JVM runs as " + System.getProperty("user.name"));
    }
    if (!nonRootUserExists()) {
      throw new IllegalStateException("user " + NON_ROOT_USER + " does not exist; create it (useradd --create-home "
          + NON_ROOT_USER + ") or run .ci/run, which does");
    }
    List<String> cmd = new ArrayList<>(List.of("runuser", "-u", NON_ROOT_USER, "--"));
    cmd.addAll(command);
    return run(cmd, timeout, Path.of("/tmp"));
  }

  /**
   * A new private staging directory under {@code /tmp} for one test (0700, owned by this user), visible
   * from every node (the nodes share the file system). Delete it with {@link #deleteTree}.
   */
  public static Path stagingDirectory(String testName) {
    try {
      return Files.createTempDirectory(Path.of("/tmp"), "procpool-slurm-" + safe(testName) + "-",
          PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create a staging directory in /tmp", e);
    }
  }

  /**
   * A new staging directory under {@code /tmp} owned by {@value #NON_ROOT_USER} (0700): its private
   * directory, e.g. for the classpath and handover files of workers it submits. Needs root.
   */
  public static Path nonRootStagingDirectory(String testName) {
    Path dir = stagingDirectory(testName + "-nonroot");
    chownTree(dir, NON_ROOT_USER);
    return dir;
  }

  /**
   * Copies classpath entries (jars, class directories) into {@code dir/classpath/} and gives the copies
   * the owner of {@code dir}; returns the copies, in order. With {@link #nonRootStagingDirectory}, makes
   * this JVM's classpath ({@link #classpathOfThisJvm}) readable for {@value #NON_ROOT_USER}.
   */
  public static List<Path> copyClasspath(List<Path> classpath, Path dir) {
    try {
      Path into = Files.createDirectories(dir.resolve("classpath"));
      List<Path> copies = new ArrayList<>();
      int i = 0;
      for (Path entry : classpath) {
        Path target = into.resolve((i++) + "-" + entry.getFileName());
        if (Files.isDirectory(entry)) {
          copyTree(entry, target);
        } else if (Files.isRegularFile(entry)) {
          Files.copy(entry, target, StandardCopyOption.COPY_ATTRIBUTES);
        } else {
          continue; // a missing classpath entry: the JVM ignores it too
        }
        copies.add(target);
      }
      chownTree(into, Files.getOwner(dir).getName());
      return copies;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot copy the classpath into " + dir, e);
    }
  }

  /** This JVM's classpath ({@code java.class.path}), entry by entry. */
  public static List<Path> classpathOfThisJvm() {
    return Arrays.stream(System.getProperty("java.class.path").split(java.io.File.pathSeparator))
        .filter(s -> !s.isEmpty()).map(Path::of).toList();
  }

  /** Deletes a directory tree (e.g. a staging directory); nothing if it does not exist. */
  public static void deleteTree(Path dir) {
    if (!Files.exists(dir)) {
      return;
    }
    try {
      Files.walkFileTree(dir, new SimpleFileVisitor<>() {
        @Override
        public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
          Files.delete(file);
          return FileVisitResult.CONTINUE;
        }

        @Override
        public FileVisitResult postVisitDirectory(Path d, IOException e) throws IOException {
          Files.delete(d);
          return FileVisitResult.CONTINUE;
        }
      });
    } catch (IOException e) {
      throw new UncheckedIOException("cannot delete " + dir, e);
    }
  }

  private static void copyTree(Path from, Path to) throws IOException {
    try (Stream<Path> paths = Files.walk(from)) {
      for (Path p : (Iterable<Path>) paths::iterator) {
        Path t = to.resolve(from.relativize(p).toString());
        if (Files.isDirectory(p)) {
          Files.createDirectories(t);
        } else {
          Files.copy(p, t, StandardCopyOption.COPY_ATTRIBUTES);
        }
      }
    }
  }

  private static void chownTree(Path dir, String user) {
    try {
      UserPrincipal owner = dir.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByName(user);
      try (Stream<Path> paths = Files.walk(dir)) {
        for (Path p : (Iterable<Path>) paths::iterator) {
          Files.setOwner(p, owner);
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot give " + dir + " to " + user, e);
    }
  }

  private static String safe(String s) {
    return s.replaceAll("[^A-Za-z0-9_.-]", "_");
  }

  // ------------------------------------------------------------------------------- commands

  /**
   * What a command did.
   *
   * @param exitCode its exit code
   * @param output stdout and stderr together
   */
  public record CommandResult(int exitCode, String output) {}

  /**
   * Runs a command (stdout and stderr together) and waits for it at most timeout.
   *
   * @throws IllegalStateException if it cannot start, or does not end within timeout (it is then killed,
   *     with its descendants)
   */
  public static CommandResult run(List<String> command, Duration timeout) {
    return run(command, timeout, null);
  }

  private static CommandResult run(List<String> command, Duration timeout, Path workDir) {
    Path out = null;
    Process p = null;
    try {
      out = Files.createTempFile("procpool-slurm-cmd-", ".out");
      ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true)
          .redirectOutput(out.toFile()).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
      if (workDir != null) {
        pb.directory(workDir.toFile());
      }
      p = pb.start();
      if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        String partial = Files.readString(out, StandardCharsets.UTF_8);
        throw new IllegalStateException(String.join(" ", command) + " did not end within " + timeout
            + "; output so far: " + partial.strip());
      }
      return new CommandResult(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8));
    } catch (IOException e) {
      throw new IllegalStateException("cannot run " + String.join(" ", command) + ": " + e.getMessage(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while running " + String.join(" ", command), e);
    } finally {
      if (p != null && p.isAlive()) {
        destroyTree(p);
      }
      if (out != null) {
        try {
          Files.deleteIfExists(out);
        } catch (IOException ignored) {
          // a temp file left behind is harmless
        }
      }
    }
  }

  private static void destroyTree(Process p) {
    List<ProcessHandle> all = p.descendants().collect(Collectors.toCollection(ArrayList::new));
    all.add(p.toHandle());
    all.forEach(ProcessHandle::destroyForcibly);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    while (all.stream().anyMatch(ProcessHandle::isAlive) && System.nanoTime() - deadline < 0) {
      pause(10); // a condition-wait: SIGKILL takes effect within milliseconds
    }
  }

  /** Runs a command that must succeed; returns its output. */
  private static String check(List<String> command, Duration timeout) {
    CommandResult r = run(command, timeout);
    if (r.exitCode() != 0) {
      throw new IllegalStateException(String.join(" ", command) + " exited with " + r.exitCode() + ": "
          + r.output().strip());
    }
    return r.output();
  }

  private static void pause(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
  }
}
