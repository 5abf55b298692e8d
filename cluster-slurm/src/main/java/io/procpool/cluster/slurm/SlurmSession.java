package io.procpool.cluster.slurm;

import io.procpool.api.cluster.ClusterSession;
import io.procpool.api.cluster.JobStatus;
import io.procpool.api.cluster.WorkerCommand;
import java.io.IOException;
import java.io.OutputStream;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/** One pool's use of a {@link SlurmCluster}. */
final class SlurmSession implements ClusterSession {
  /**
   * Environment variables passed on to the jobs if the pool has them (none is secret), besides those
   * of {@link SlurmCluster#exportEnv()}. sbatch runs with only these (and {@code SLURM_*},
   * {@code SBATCH_*}: Slurm's own settings) in its environment and {@code --export=ALL}: any other
   * {@code --export} makes Slurm load the user's login environment on the node first, which delays
   * every worker by seconds.
   */
  static final List<String> EXPORTED_ENV = List.of("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "HOME", "USER", "LOGNAME");
  static final List<String> EXPORTED_PREFIXES = List.of("SLURM_", "SBATCH_");
  static final String HANDOVER_FILE = "handover";
  static final String SCRIPT_FILE = "worker.sh";
  private static final Pattern LAUNCH_ID = Pattern.compile("[0-9]+_[0-9]+");
  private static final Pattern JOB_ID = Pattern.compile("[0-9]+");
  private static final SecureRandom RANDOM = new SecureRandom();

  private final SlurmCluster cluster;
  private final SlurmCli cli;
  private final String jobName;
  private final Path dir;
  private final Path handover;
  private final Path script;
  /** Array job ids submitted, in order. */
  private final Set<String> arrayJobs = new LinkedHashSet<>();
  /** Every launch id submitted, with its last known status (null: not seen yet). */
  private final Map<String, JobStatus> known = new LinkedHashMap<>();
  private boolean closed;

  private SlurmSession(SlurmCluster cluster, SlurmCli cli, String jobName, Path dir) {
    this.cluster = cluster;
    this.cli = cli;
    this.jobName = jobName;
    this.dir = dir;
    this.handover = dir.resolve(HANDOVER_FILE);
    this.script = dir.resolve(SCRIPT_FILE);
  }

  static SlurmSession open(SlurmCluster cluster, WorkerCommand command, SlurmCli cli) throws IOException {
    String jobName = command.jobName();
    if (!jobName.matches("[A-Za-z0-9_.\\-]+")) {
      throw new IllegalArgumentException("job name '" + jobName + "' must be letters, digits, '_', '.', '-'");
    }
    Path staging = cluster.stagingDir();
    if (staging.toString().indexOf('\\') >= 0) {
      throw new IOException("the Slurm staging directory " + staging + " contains a backslash, which makes Slurm"
          + " take the job output's file name pattern literally; use another directory");
    }
    if (!Files.isDirectory(staging)) {
      throw new IOException("the Slurm staging directory " + staging + " does not exist (or is not a directory);"
          + " create it on a file system every node sees at the same path");
    }
    checkStagingDir(staging);
    // Slurm answers? One cheap call, so that a pool without a reachable Slurm fails at build().
    SlurmCli.Result r = cli.run("squeue", List.of("-h", "--name=" + jobName, "-o", "%i"));
    if (r.exitCode() != 0) {
      throw new IOException("Slurm does not answer: squeue exited with " + r.exitCode() + ": " + r.message());
    }
    reapOrphans(staging, cli);
    Path dir = staging.resolve(jobName + "-" + HexFormat.of().formatHex(randomBytes(6)));
    Files.createDirectory(dir, Staging.dir0700());
    SlurmSession s = new SlurmSession(cluster, cli, jobName, dir);
    try {
      Files.setPosixFilePermissions(dir, Staging.DIR_0700); // exactly 0700, whatever the umask
      Files.writeString(Files.createFile(dir.resolve(OWNER_FILE), Staging.file0600()), Owner.current(jobName).text());
      Staging staged = new Staging(staging, cluster.classpathStaging());
      List<String> classpath = staged.classpath(command.classpath());
      Map<String, String> props = new LinkedHashMap<>();
      for (Map.Entry<String, String> e : command.transportProperties().entrySet()) {
        props.put(e.getKey(), staged.property(e.getKey(), e.getValue(), dir));
      }
      s.writeHandover(command.handover(props));
      s.writeScript(command, classpath);
    } catch (IOException | RuntimeException e) {
      s.close();
      throw e;
    }
    return s;
  }

  /** Who runs a session: read by later sessions to find those whose pool's JVM died. */
  static final String OWNER_FILE = "owner";
  /** The array job ids the session submitted, one a line. */
  static final String JOBS_FILE = "jobs";
  /** Owner and jobs files are small; a larger one is not ours as written. */
  private static final int MAX_RECORD_BYTES = 64 * 1024;

  /**
   * The JVM that opened a session: its host, pid and start time (so that a reused pid is not taken
   * for it), and the session's job name.
   */
  record Owner(String host, long pid, String start, String jobName) {
    static Owner current(String jobName) {
      ProcessHandle self = ProcessHandle.current();
      return new Owner(hostName(), self.pid(), startOf(self), jobName);
    }

    String text() {
      return "host=" + host + "\npid=" + pid + "\nstart=" + start + "\njob=" + jobName + "\n";
    }

    static Owner parse(String text) {
      Map<String, String> f = new LinkedHashMap<>();
      for (String line : text.split("\n")) {
        int eq = line.indexOf('=');
        if (eq > 0) {
          f.put(line.substring(0, eq), line.substring(eq + 1));
        }
      }
      try {
        return new Owner(f.get("host"), Long.parseLong(f.get("pid")), f.get("start"), f.get("job"));
      } catch (RuntimeException e) {
        return null;
      }
    }

    /** Whether the JVM that wrote this ran on this host and has ended. */
    boolean deadHere() {
      if (host == null || !host.equals(hostName()) || jobName == null || !jobName.matches("procpool-[A-Za-z0-9_.\\-]+")) {
        return false;
      }
      return ProcessHandle.of(pid).map(p -> !startOf(p).equals(start)).orElse(true);
    }

    private static String startOf(ProcessHandle p) {
      return p.info().startInstant().map(Object::toString).orElse("?");
    }
  }

  static String hostName() {
    try {
      return Files.readString(Path.of("/proc/sys/kernel/hostname")).strip();
    } catch (IOException | RuntimeException e) {
      try {
        return java.net.InetAddress.getLocalHost().getHostName();
      } catch (IOException e2) {
        return "unknown";
      }
    }
  }

  /**
   * Ends what pools killed without closing (e.g. {@code kill -9}) left behind, so that their pending
   * jobs do not start workers for nobody and their key does not stay on the shared file system: for
   * each session directory in {@code staging} whose owner ran on this host and is gone, cancels its
   * jobs (by name, this user's only) and deletes the directory, the handover file first. Best effort.
   */
  static void reapOrphans(Path staging, SlurmCli cli) {
    List<Path> dirs;
    try (Stream<Path> list = Files.list(staging)) {
      dirs = list.filter(d -> d.getFileName().toString().startsWith("procpool-")
          && Files.isRegularFile(d.resolve(OWNER_FILE), java.nio.file.LinkOption.NOFOLLOW_LINKS)).toList();
    } catch (IOException | RuntimeException e) {
      return;
    }
    for (Path d : dirs) {
      Owner owner;
      try {
        if (!ours(d) || !ours(d.resolve(OWNER_FILE))) {
          continue; // another user's (or tampered with): never trusted
        }
        owner = Owner.parse(readSmall(d.resolve(OWNER_FILE)));
      } catch (IOException | RuntimeException e) {
        continue; // being written, unreadable or too large
      }
      if (owner == null || !owner.deadHere()
          || !d.getFileName().toString().matches(Pattern.quote(owner.jobName()) + "-[0-9a-f]{12}")
          || !owner.jobName().startsWith("procpool-" + owner.pid() + "-")) {
        continue;
      }
      // Claim it: of several sessions opening at once, one reaps it.
      Path claimed = d.resolveSibling(d.getFileName() + ".reaping-" + HexFormat.of().formatHex(randomBytes(4)));
      try {
        Files.move(d, claimed, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
      } catch (IOException | RuntimeException e) {
        continue; // another session took it
      }
      List<String> jobs = new ArrayList<>();
      try {
        Path jobsFile = claimed.resolve(JOBS_FILE);
        if (Files.exists(jobsFile, java.nio.file.LinkOption.NOFOLLOW_LINKS) && ours(jobsFile)) {
          for (String line : readSmall(jobsFile).split("\n")) {
            if (JOB_ID.matcher(line.strip()).matches()) {
              jobs.add(line.strip());
            }
          }
        }
        if (!jobs.isEmpty()) {
          // Exactly the jobs it submitted: a live pool whose JVM reused the pid has the same job name.
          List<String> args = new ArrayList<>(jobs);
          args.add("--user=" + System.getProperty("user.name"));
          SlurmCli.Result r = cli.run("scancel", args);
          if (r.exitCode() != 0 && !alreadyGone(r.message())) {
            throw new IOException(r.message());
          }
        }
      } catch (IOException | RuntimeException e) {
        System.getLogger("io.procpool").log(System.Logger.Level.WARNING, "procpool: could not cancel the Slurm jobs "
            + jobs + " of pool " + owner.jobName() + ", which ended without closing: " + e.getMessage()
            + "; its files are kept in " + claimed);
        continue; // keep the directory: the jobs may still need their handover
      }
      System.getLogger("io.procpool").log(System.Logger.Level.INFO, "procpool: pool " + owner.jobName() + " (pid "
          + owner.pid() + " on " + owner.host() + ") ended without closing; cancelled its Slurm jobs " + jobs
          + " and deleted its session directory " + d);
      deleteTree(claimed.resolve(HANDOVER_FILE), claimed);
    }
  }

  /** A small file of ours, read whole; a larger one is refused. */
  private static String readSmall(Path file) throws IOException {
    try (java.io.InputStream in = Files.newInputStream(file, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
      byte[] b = in.readNBytes(MAX_RECORD_BYTES + 1);
      if (b.length > MAX_RECORD_BYTES) {
        throw new IOException(file + " is larger than " + MAX_RECORD_BYTES + " bytes");
      }
      return new String(b, StandardCharsets.UTF_8);
    }
  }


  /**
   * Whether {@code p} (not a link) belongs to this user and nobody else can write it: a session
   * directory is 0700 and its owner file 0600, as this class makes them.
   */
  private static boolean ours(Path p) throws IOException {
    java.nio.file.attribute.PosixFileAttributes a = Files.readAttributes(p,
        java.nio.file.attribute.PosixFileAttributes.class, java.nio.file.LinkOption.NOFOLLOW_LINKS);
    if (a.isSymbolicLink() || !a.owner().getName().equals(System.getProperty("user.name"))) {
      return false;
    }
    Set<java.nio.file.attribute.PosixFilePermission> perms = a.permissions();
    return !perms.contains(java.nio.file.attribute.PosixFilePermission.GROUP_WRITE)
        && !perms.contains(java.nio.file.attribute.PosixFilePermission.OTHERS_WRITE);
  }

  private static void deleteTree(Path first, Path dir) {
    try {
      Files.deleteIfExists(first); // the secret first
    } catch (IOException e) {
      // best effort: the directory below goes too
    }
    try (Stream<Path> s = Files.walk(dir)) {
      for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
        try {
          Files.deleteIfExists(p);
        } catch (IOException e) {
          // a job still writing its output, or a file of another user: leave it
        }
      }
    } catch (IOException | RuntimeException e) {
      // must not throw
    }
  }

  /**
   * Refuses a staging directory that others may write to without the sticky bit: they could rename the
   * session directory or the cache and put their own batch script or jars in its place.
   */
  static void checkStagingDir(Path staging) throws IOException {
    int mode;
    try {
      mode = (Integer) Files.getAttribute(staging, "unix:mode");
    } catch (UnsupportedOperationException | IllegalArgumentException e) {
      return; // not a Unix file system: nothing to check
    }
    boolean writableByOthers = (mode & 0022) != 0;
    boolean sticky = (mode & 01000) != 0;
    if (writableByOthers && !sticky) {
      throw new IOException("the Slurm staging directory " + staging + " may be written by others (mode "
          + String.format("%04o", mode & 07777) + ") and lacks the sticky bit: they could replace this pool's files;"
          + " use a directory of your own (or one with mode 1777, like /tmp)");
    }
  }

  private static byte[] randomBytes(int n) {
    byte[] b = new byte[n];
    RANDOM.nextBytes(b);
    return b;
  }

  /** Created with 0600 from the start (never readable by others, not even for a moment). */
  private void writeHandover(byte[] bytes) throws IOException {
    try (OutputStream out = Files.newOutputStream(Files.createFile(handover, Staging.file0600()),
        StandardOpenOption.WRITE)) {
      out.write(bytes);
    }
    Files.setPosixFilePermissions(handover, Staging.FILE_0600);
  }

  private void writeScript(WorkerCommand command, List<String> classpath) throws IOException {
    List<String> cmd = new ArrayList<>();
    cmd.add(cluster.java().orElse(command.java()).toString());
    cmd.addAll(command.jvmOptions());
    cmd.add("-cp");
    cmd.add(String.join(":", classpath));
    cmd.add(command.mainClass());
    cmd.addAll(command.arguments(handover.toString()));
    String text = "#!/bin/sh\n"
        + "# procpool worker of pool " + jobName + ", written by io.procpool.cluster.slurm (no secret in here).\n"
        + "PROCPOOL_LAUNCH_ID=\"${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}\"\n"
        + "export PROCPOOL_LAUNCH_ID\n"
        + "exec " + shellWords(cmd) + "\n";
    Files.writeString(Files.createFile(script, Staging.file0600()), text, StandardCharsets.UTF_8);
  }

  /** Words quoted for sh: each in single quotes, a single quote as {@code '\''}. */
  static String shellWords(List<String> words) {
    StringBuilder s = new StringBuilder();
    for (String w : words) {
      if (w.indexOf('\0') >= 0) {
        throw new IllegalArgumentException("a worker argument contains a NUL character");
      }
      if (s.length() > 0) {
        s.append(' ');
      }
      s.append('\'').append(w.replace("'", "'\\''")).append('\'');
    }
    return s.toString();
  }

  /** The sbatch arguments for an array of {@code count} workers. */
  List<String> sbatchArguments(int count) {
    List<String> a = new ArrayList<>();
    a.add("--parsable");
    a.add("--array=0-" + (count - 1));
    a.add("--job-name=" + jobName);
    cluster.partition().ifPresent(p -> a.add("--partition=" + p));
    a.add("--cpus-per-task=" + cluster.cpusPerWorker());
    cluster.memoryPerWorker().ifPresent(m -> a.add("--mem=" + m));
    cluster.timeMinutes().ifPresent(m -> a.add("--time=" + m));
    a.add("--signal=B:USR1@" + cluster.retireBeforeSeconds());
    a.add("--no-requeue");
    // %A_%a: the launch id; a '%' of the path itself is written %% in Slurm's file name patterns.
    a.add("--output=" + dir.toString().replace("%", "%%") + "/%A_%a.out");
    a.add("--open-mode=append");
    a.add("--chdir=" + dir);
    a.add("--export=ALL"); // of sbatch's environment, which is jobEnvironment()
    a.addAll(cluster.sbatchArgs());
    a.add(script.toString());
    return a;
  }

  /** sbatch's environment, which becomes the jobs' (with Slurm's variables added on the node). */
  Map<String, String> jobEnvironment() {
    Set<String> keep = new java.util.HashSet<>(EXPORTED_ENV);
    keep.addAll(cluster.exportEnv());
    return cli.environment(keep, EXPORTED_PREFIXES);
  }

  @Override
  public List<String> submit(int count) throws IOException {
    if (count < 1) {
      throw new IllegalArgumentException("count must be at least 1, not " + count);
    }
    checkOpen();
    // Not under the lock: cancel() may run meanwhile.
    SlurmCli.Result r = cli.run("sbatch", sbatchArguments(count), jobEnvironment());
    String id = r.stdout().strip().split(";", 2)[0];
    if (r.exitCode() != 0 || !JOB_ID.matcher(id).matches()) {
      throw new IOException("sbatch refused " + count + " worker" + (count == 1 ? "" : "s") + " of " + jobName
          + " (exit " + r.exitCode() + "): " + (r.message().isEmpty() ? "no message" : r.message()));
    }
    try {
      // For a later session to cancel exactly these if this JVM dies without closing (reapOrphans).
      Files.writeString(dir.resolve(JOBS_FILE), id + "\n", StandardCharsets.US_ASCII, StandardOpenOption.CREATE,
          StandardOpenOption.APPEND);
    } catch (IOException e) {
      // the jobs are submitted; only their clean-up after a kill -9 of this JVM loses track of them
    }
    List<String> ids = new ArrayList<>(count);
    synchronized (this) {
      arrayJobs.add(id);
      for (int i = 0; i < count; i++) {
        String launchId = id + "_" + i;
        ids.add(launchId);
        known.put(launchId, null);
      }
    }
    return ids;
  }

  /**
   * {@inheritDoc}
   *
   * <p>A job that squeue no longer lists is reported {@code ENDED} (verdict unknown unless seen before)
   * once, and left out afterwards: Slurm lists ended jobs for {@code MinJobAge} (minutes), so the pool
   * has seen the verdict by then, and a long-lived pool does not carry every job it ever had.
   */
  @Override
  public Map<String, JobStatus> poll() throws IOException {
    return poll(SlurmCli.TIMEOUT);
  }

  /** A Slurm call's time limit within a caller's: what is left of it, but at least a second. */
  private static Duration atLeast(Duration left) {
    return left.compareTo(Duration.ofSeconds(1)) < 0 ? Duration.ofSeconds(1) : left;
  }

  private Map<String, JobStatus> poll(Duration timeout) throws IOException {
    Map<String, JobStatus> seen = squeue(timeout);
    synchronized (this) {
      Map<String, JobStatus> out = new LinkedHashMap<>();
      for (java.util.Iterator<Map.Entry<String, JobStatus>> it = known.entrySet().iterator(); it.hasNext(); ) {
        Map.Entry<String, JobStatus> e = it.next();
        String id = e.getKey();
        JobStatus last = e.getValue();
        JobStatus now = seen.get(id);
        if (now == null) {
          if (last != null && last.phase() == JobStatus.Phase.ENDED) {
            it.remove(); // reported ended before; Slurm has forgotten it since
            continue;
          }
          // Forgotten by Slurm before we saw it end (the controller lost its state, or it ended and was
          // purged between two polls).
          now = JobStatus.ended(null, null, last == null ? null : last.node());
        } else if (now.phase() == JobStatus.Phase.ENDED && now.node() == null && last != null && last.node() != null) {
          now = JobStatus.ended(now.verdict(), now.exitCode(), last.node());
        }
        e.setValue(now);
        out.put(id, now);
      }
      arrayJobs.removeIf(job -> known.keySet().stream().noneMatch(id -> id.startsWith(job + "_")));
      return out;
    }
  }

  /** squeue's view of this session's jobs (all of them, by the session's job name). */
  private Map<String, JobStatus> squeue(Duration timeout) throws IOException {
    synchronized (this) {
      if (arrayJobs.isEmpty()) {
        return Map.of();
      }
    }
    SlurmCli.Result r = cli.run("squeue", List.of("-h", "-a", "-r", "-t", "all", "--name=" + jobName,
        "-O", SlurmStates.SQUEUE_FORMAT), timeout);
    if (r.exitCode() != 0) {
      throw new IOException("squeue failed (exit " + r.exitCode() + "): " + r.message());
    }
    return SlurmStates.parse(r.stdout());
  }

  @Override
  public void cancel(String launchId) throws IOException {
    if (!LAUNCH_ID.matcher(launchId).matches()) {
      throw new IllegalArgumentException("not a launch id of this session: " + launchId);
    }
    synchronized (this) {
      if (!known.containsKey(launchId)) {
        throw new IllegalArgumentException("not a launch id of this session: " + launchId);
      }
    }
    scancel(List.of(launchId));
  }

  private void scancel(List<String> ids) throws IOException {
    scancel(ids, SlurmCli.TIMEOUT);
  }

  private void scancel(List<String> ids, Duration timeout) throws IOException {
    SlurmCli.Result r = cli.run("scancel", ids, timeout);
    if (r.exitCode() != 0 && !alreadyGone(r.message())) {
      throw new IOException("scancel " + String.join(" ", ids) + " failed (exit " + r.exitCode() + "): " + r.message());
    }
  }

  /** scancel's words for a job that already ended or was forgotten: nothing to cancel, no error. */
  static boolean alreadyGone(String message) {
    String m = message.toLowerCase(java.util.Locale.ROOT);
    return m.contains("already completing or completed") || m.contains("invalid job id");
  }

  @Override
  public boolean cancelAll(Duration timeout) throws IOException {
    List<String> ids = new ArrayList<>();
    synchronized (this) {
      for (String job : arrayJobs) {
        if (known.entrySet().stream().anyMatch(e -> e.getKey().startsWith(job + "_")
            && (e.getValue() == null || e.getValue().phase() != JobStatus.Phase.ENDED))) {
          ids.add(job);
        }
      }
    }
    if (ids.isEmpty()) {
      return true;
    }
    long deadline = System.nanoTime() + timeout.toNanos();
    scancel(ids, atLeast(timeout));
    long pause = 50;
    while (true) {
      try {
        if (poll(atLeast(Duration.ofNanos(deadline - System.nanoTime()))).values().stream()
            .allMatch(s -> s.phase() == JobStatus.Phase.ENDED)) {
          return true;
        }
      } catch (IOException e) {
        // squeue did not answer this time: try again until the deadline
      }
      long left = deadline - System.nanoTime();
      if (left <= 0) {
        return false;
      }
      try {
        Thread.sleep(Math.min(pause, Math.max(1, left / 1_000_000)));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return false;
      }
      pause = Math.min(pause * 2, 500);
    }
  }

  @Override
  public String logTail(String launchId, int maxLines) {
    if (!LAUNCH_ID.matcher(launchId).matches() || maxLines <= 0) {
      return "";
    }
    return tail(dir.resolve(launchId + ".out"), maxLines);
  }

  /** The last {@code maxLines} lines of a file (reading at most its last 64 KiB), or "". */
  static String tail(Path file, int maxLines) {
    try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "r")) {
      long len = f.length();
      int n = (int) Math.min(len, 64 * 1024);
      byte[] b = new byte[n];
      f.seek(len - n);
      f.readFully(b);
      String text = new String(b, StandardCharsets.UTF_8);
      if (text.endsWith("\n")) {
        text = text.substring(0, text.length() - 1);
      }
      String[] lines = text.split("\n", -1);
      int from = Math.max(0, lines.length - maxLines);
      if (n < len && from == 0) {
        from = 1; // the first line read is cut
      }
      return String.join("\n", java.util.Arrays.asList(lines).subList(Math.min(from, lines.length), lines.length));
    } catch (IOException e) {
      return "";
    }
  }

  @Override
  public Duration pollInterval() {
    return Duration.ofSeconds(1);
  }

  /** The cluster's {@link SlurmCluster#pendingGrace()}. */
  @Override
  public Duration pendingGrace() {
    return cluster.pendingGrace();
  }

  @Override
  public synchronized String describe(String launchId) {
    JobStatus s = known.get(launchId);
    String node = s == null ? null : s.node();
    return "Slurm job " + launchId + (node == null ? "" : " (node " + node + ")");
  }

  /** The session directory. */
  Path directory() {
    return dir;
  }

  private synchronized void checkOpen() {
    if (closed) {
      throw new IllegalStateException("the Slurm session of " + jobName + " is closed");
    }
  }

  @Override
  public void close() {
    synchronized (this) {
      if (closed) {
        return;
      }
      closed = true;
    }
    deleteTree(handover, dir);
  }

  @Override
  public String toString() {
    return "SlurmSession{" + jobName + ", " + dir + "}";
  }
}
