package io.procpool.cluster.slurm;

import io.procpool.api.cluster.Cluster;
import io.procpool.api.cluster.ClusterSession;
import io.procpool.api.cluster.WorkerCommand;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Places pool workers with Slurm: each {@code submit} is one {@code sbatch --array} job array whose
 * tasks are the workers, {@code squeue} tells their state, {@code scancel} ends them. Only the Slurm
 * command-line tools are used; they must be on the {@code PATH} of the pool's process (or see
 * {@link Builder#commands(Path)}) and able to reach the cluster's controller.
 *
 * <p>A complete example: a pool of 16 workers placed by Slurm (two CPUs and 4 GB each, for at most
 * eight hours each; the pool replaces workers that end) and no local one. The pool listens where the
 * nodes reach it, so with TLS:
 *
 * <pre>{@code
 * SlurmCluster slurm = SlurmCluster.builder()
 *     .partition("batch")
 *     .cpusPerWorker(2)
 *     .memoryPerWorker("4G")
 *     .time(Duration.ofHours(8))
 *     .stagingDir(Path.of("/shared/scratch/alice/procpool"))   // seen by every node at this path
 *     .sbatchArgs("--account=genomics", "--qos=normal")
 *     .build();
 * try (ProcessPool pool = ProcessPool.builder()
 *     .transport("grpc")
 *     .listenAddress("0.0.0.0:7000")                               // workers connect from the nodes
 *     .transportProperty("grpc.tls.certChain", "/home/alice/pool.crt")
 *     .transportProperty("grpc.tls.privateKey", "/home/alice/pool.key")
 *     .processes(0)
 *     .cluster(slurm)
 *     .clusterWorkers(16)
 *     .build()) {
 *   List<Integer> lengths = pool.map(String::length, inputs);
 * }
 * }</pre>
 *
 * <p><b>What each worker is.</b> One task of a job array named after the pool
 * ({@code procpool-<pid>-<n>}, so forgotten jobs can be found with {@code squeue --name}), submitted
 * with {@code --no-requeue} (the pool replaces workers; Slurm must not restart them) and
 * {@code --signal=B:USR1@}<i>retireBefore</i> (the worker retires, finishing its task and taking no new
 * one, when it gets {@code SIGUSR1} that long before its walltime). Its environment is only
 * {@code PATH}, {@code HOME}, the user and locale variables, Slurm's own and those named with
 * {@link Builder#exportEnv(String...)}, never the pool's whole environment: Slurm stores the
 * environment of every job. The batch script {@code exec}s {@code java}, so that Slurm's signals reach
 * the worker JVM. The job's output (stdout and stderr) goes to
 * {@code <session dir>/<array job>_<task>.out}, whose last lines appear in start-failure messages.
 *
 * <p><b>States.</b> The session asks {@code squeue} once per poll for all of its jobs. A job waiting
 * for a reason that cannot clear as the cluster is configured ({@code PartitionConfig},
 * {@code PartitionNodeLimit}, {@code PartitionTimeLimit}, {@code BadConstraints},
 * {@code InvalidAccount}, {@code InvalidQOS}, per-job QOS and association limits, ...) is reported as
 * such, and the pool gives it up after {@link Builder#pendingGrace(Duration)}. An ended job carries
 * Slurm's verdict ({@code COMPLETED}, {@code FAILED}, {@code CANCELLED}, {@code TIMEOUT},
 * {@code NODE_FAIL}, {@code OUT_OF_MEMORY}, ...) and exit code ({@code 128 + n} for signal {@code n}).
 *
 * <p><b>Staging.</b> {@link Cluster#open} creates a session directory
 * {@code <stagingDir>/<job name>-<random>/} (mode 0700) holding the handover file (mode 0600: the pool's
 * auth key and transport properties, never put in the batch script, the command line or the job's
 * environment), the batch script and the job outputs; closing the pool deletes it, the handover file
 * first. A session directory left by a pool whose JVM was killed without closing it ({@code kill -9})
 * is found by the next session opened on the same host in the same staging directory, which cancels
 * its jobs and deletes it. The staging directory must be on a file system that every node sees at the same path (and
 * may be writable by others only with the sticky bit, like {@code /tmp}), and so
 * must the worker's {@code java} (by default the pool's own; see {@link Builder#java(Path)}). Classpath
 * entries, and transport properties whose value is the absolute path of a regular file (such as a
 * trusted certificate), are used in place when they are on the staging directory's file system, and
 * otherwise copied once into {@code <stagingDir>/cache/<sha256>/<file name>} (directories packed as a
 * jar), where later pools and runs find them (see {@link ClasspathStaging}); a file of a property whose
 * name says it is secret (containing {@code key}, {@code password}, {@code secret}, {@code token} or
 * {@code credential}, such as a TLS client's private key) is copied into the session directory
 * instead, and deleted with it. The cache is the user's: it is created with mode 0700 and refused if
 * someone else owns it or can write to it.
 *
 * <p>Instances are immutable and thread-safe; one may serve several pools, each with its own
 * session.
 */
public final class SlurmCluster implements Cluster {

  /** Where classpath entries and file-valued transport properties are taken from on the nodes. */
  public enum ClasspathStaging {
    /**
     * The default: entries on the staging directory's file system (assumed shared, like the staging
     * directory) are used in place; others are copied into the cache.
     */
    AUTO,
    /** Every entry is copied into the cache (for a staging directory on a file system that is partly shared). */
    ALWAYS,
    /** Nothing is copied: every path must already exist on the nodes as it does on the pool's machine. */
    NEVER
  }

  static final Duration DEFAULT_RETIRE_BEFORE = Duration.ofMinutes(2);
  static final Duration DEFAULT_PENDING_GRACE = Duration.ofSeconds(10);
  /** Slurm's largest {@code --signal} time, in seconds. */
  static final long MAX_SIGNAL_SECONDS = 65535;
  private static final Pattern MEMORY = Pattern.compile("[1-9][0-9]*[KMGTkmgt]?|0");
  private static final Pattern PARTITION = Pattern.compile("[A-Za-z0-9_.\\-]+(,[A-Za-z0-9_.\\-]+)*");
  /** The sbatch options the cluster sets itself, long names and short letters. */
  static final Set<String> OWN_LONG_OPTIONS = Set.of("array", "job-name", "partition", "cpus-per-task", "mem",
      "mem-per-cpu", "mem-per-gpu", "time", "signal", "output", "error", "input", "export", "export-file", "parsable",
      "wrap", "open-mode", "requeue", "no-requeue", "chdir", "get-user-env", "hold", "wait");
  static final Set<Character> OWN_SHORT_OPTIONS = Set.of('a', 'J', 'p', 'c', 't', 'o', 'e', 'i', 'D', 'H', 'W');
  /** sbatch options with which sbatch submits nothing (it only tests or prints). */
  static final Set<String> NON_SUBMITTING_LONG_OPTIONS = Set.of("test-only", "help", "usage", "version");
  static final Set<Character> NON_SUBMITTING_SHORT_OPTIONS = Set.of('h', 'V');

  private final String partition;
  private final int cpusPerWorker;
  private final String memoryPerWorker;
  private final Duration time;
  private final Path stagingDir;
  private final List<String> sbatchArgs;
  private final Path java;
  private final ClasspathStaging classpathStaging;
  private final Duration retireBefore;
  private final Duration pendingGrace;
  private final List<String> exportEnv;
  private final Path commands;

  private SlurmCluster(Builder b) {
    this.partition = b.partition;
    this.cpusPerWorker = b.cpusPerWorker == null ? 1 : b.cpusPerWorker;
    this.memoryPerWorker = b.memoryPerWorker;
    this.time = b.time;
    this.stagingDir = b.stagingDir;
    this.sbatchArgs = b.sbatchArgs == null ? List.of() : b.sbatchArgs;
    this.java = b.java;
    this.classpathStaging = b.classpathStaging == null ? ClasspathStaging.AUTO : b.classpathStaging;
    this.retireBefore = b.retireBefore != null ? b.retireBefore : defaultRetireBefore(b.time);
    this.pendingGrace = b.pendingGrace == null ? DEFAULT_PENDING_GRACE : b.pendingGrace;
    this.exportEnv = b.exportEnv == null ? List.of() : b.exportEnv;
    this.commands = b.commands;
  }

  /** A new builder; {@link Builder#stagingDir(Path)} is required. */
  public static Builder builder() {
    return new Builder();
  }

  /** {@code "slurm"}. */
  @Override
  public String name() {
    return "slurm";
  }

  /**
   * Checks that Slurm answers ({@code squeue}), creates the session directory and the handover file,
   * stages the classpath and writes the batch script.
   *
   * @throws IOException if Slurm does not answer, the staging directory does not exist, or a file
   *     cannot be staged; the message says which
   */
  @Override
  public ClusterSession open(WorkerCommand command) throws IOException {
    return SlurmSession.open(this, command, new SlurmCli(commands));
  }

  /** The partition ({@code -p}), if set; otherwise the cluster's default partition. */
  public Optional<String> partition() {
    return Optional.ofNullable(partition);
  }

  /** CPUs per worker ({@code -c}); 1 unless set. */
  public int cpusPerWorker() {
    return cpusPerWorker;
  }

  /** Memory per worker ({@code --mem}), in Slurm's syntax, if set. */
  public Optional<String> memoryPerWorker() {
    return Optional.ofNullable(memoryPerWorker);
  }

  /** The walltime of each worker, if set; otherwise the partition's default time limit applies. */
  public Optional<Duration> time() {
    return Optional.ofNullable(time);
  }

  /** The walltime as given to {@code --time}: whole minutes, rounded up. */
  public OptionalInt timeMinutes() {
    return time == null ? OptionalInt.empty() : OptionalInt.of(minutesRoundedUp(time));
  }

  /** The staging directory, absolute. */
  public Path stagingDir() {
    return stagingDir;
  }

  /** The extra sbatch options. */
  public List<String> sbatchArgs() {
    return sbatchArgs;
  }

  /** The {@code java} to run on the nodes, if set; otherwise the pool's own. */
  public Optional<Path> java() {
    return Optional.ofNullable(java);
  }

  /** How classpath entries reach the nodes. */
  public ClasspathStaging classpathStaging() {
    return classpathStaging;
  }

  /** How long before its walltime a worker is told to retire ({@code SIGUSR1}). */
  public Duration retireBefore() {
    return retireBefore;
  }

  /** How long a job may stay pending for a reason that cannot clear before the pool gives it up. */
  public Duration pendingGrace() {
    return pendingGrace;
  }

  /** Names of variables of the pool's environment that the workers get besides the standard ones. */
  public List<String> exportEnv() {
    return exportEnv;
  }

  /** The directory of Slurm's commands, if set; otherwise they are looked up on the {@code PATH}. */
  public Optional<Path> commands() {
    return Optional.ofNullable(commands);
  }

  /** The {@code --signal} time in whole seconds, rounded up. */
  long retireBeforeSeconds() {
    return ceilSeconds(retireBefore);
  }

  @Override
  public String toString() {
    return "SlurmCluster{" + (partition == null ? "" : "partition " + partition + ", ") + cpusPerWorker + " CPU"
        + (memoryPerWorker == null ? "" : ", " + memoryPerWorker) + (time == null ? "" : ", time " + time)
        + ", staging " + stagingDir + (sbatchArgs.isEmpty() ? "" : ", sbatch " + String.join(" ", sbatchArgs)) + "}";
  }

  private static Duration defaultRetireBefore(Duration time) {
    if (time == null) {
      return DEFAULT_RETIRE_BEFORE;
    }
    // Bounded by the walltime: never more than half of it.
    Duration half = Duration.ofSeconds(Math.max(1, ceilSeconds(time) / 2));
    return half.compareTo(DEFAULT_RETIRE_BEFORE) < 0 ? half : DEFAULT_RETIRE_BEFORE;
  }

  static long ceilSeconds(Duration d) {
    long s = d.getSeconds();
    return d.getNano() > 0 ? s + 1 : s;
  }

  static int minutesRoundedUp(Duration d) {
    long s = ceilSeconds(d);
    return Math.toIntExact((s + 59) / 60);
  }

  /**
   * Builds a {@link SlurmCluster}. Every setter validates its value at once and may be called once;
   * only {@link #stagingDir(Path)} is required.
   */
  public static final class Builder {
    private String partition;
    private Integer cpusPerWorker;
    private String memoryPerWorker;
    private Duration time;
    private Path stagingDir;
    private List<String> sbatchArgs;
    private Path java;
    private ClasspathStaging classpathStaging;
    private Duration retireBefore;
    private Duration pendingGrace;
    private List<String> exportEnv;
    private Path commands;

    private Builder() {}

    /**
     * The partition (or comma-separated partitions) the workers are submitted to ({@code -p});
     * by default the cluster's default partition.
     */
    public Builder partition(String partition) {
      once(this.partition, "partition");
      Objects.requireNonNull(partition, "partition");
      if (!PARTITION.matcher(partition).matches()) {
        throw new IllegalArgumentException("partition '" + partition
            + "' is not a Slurm partition name (letters, digits, '_', '.', '-'; several separated by commas)");
      }
      this.partition = partition;
      return this;
    }

    /** CPUs per worker ({@code -c}), at least 1; default 1. */
    public Builder cpusPerWorker(int cpus) {
      once(this.cpusPerWorker, "cpusPerWorker");
      if (cpus < 1) {
        throw new IllegalArgumentException("cpusPerWorker must be at least 1, not " + cpus);
      }
      this.cpusPerWorker = cpus;
      return this;
    }

    /**
     * Memory per worker ({@code --mem}) in Slurm's syntax: a whole number with an optional unit
     * {@code K}, {@code M} (the default), {@code G} or {@code T}, e.g. {@code "2G"} or {@code "512M"};
     * {@code "0"} asks for all the memory of the node. Leave room for the JVM's own memory over its
     * heap ({@code -Xmx}): Slurm ends a job that exceeds it with {@code OUT_OF_MEMORY}. By default
     * the partition's default.
     */
    public Builder memoryPerWorker(String memory) {
      once(this.memoryPerWorker, "memoryPerWorker");
      Objects.requireNonNull(memory, "memory");
      if (!MEMORY.matcher(memory).matches()) {
        throw new IllegalArgumentException("memoryPerWorker '" + memory
            + "' is not in Slurm's syntax: a whole number with an optional unit K, M, G or T, such as 2G or 512M");
      }
      this.memoryPerWorker = memory.toUpperCase(Locale.ROOT);
      return this;
    }

    /**
     * The walltime of each worker job ({@code --time}, rounded up to whole minutes), after which Slurm
     * ends it ({@code TIMEOUT}); the worker retires {@link #retireBefore(Duration)} earlier. By default
     * the partition's default time limit.
     */
    public Builder time(Duration time) {
      once(this.time, "time");
      Objects.requireNonNull(time, "time");
      if (time.isNegative() || time.isZero()) {
        throw new IllegalArgumentException("time must be positive, not " + time);
      }
      if (time.toDays() > 365) {
        throw new IllegalArgumentException("time " + time + " is more than a year; leave it unset for the partition's limit");
      }
      this.time = time;
      return this;
    }

    /**
     * A directory that every node sees at the same path (a shared file system), where each pool gets a
     * private session directory and copied files are cached. Required; it must exist when a pool
     * is built.
     */
    public Builder stagingDir(Path dir) {
      once(this.stagingDir, "stagingDir");
      Objects.requireNonNull(dir, "stagingDir");
      this.stagingDir = dir.toAbsolutePath().normalize();
      return this;
    }

    /**
     * Extra sbatch options, each one argument as on a command line (e.g. {@code "--account=bio"},
     * {@code "--constraint=avx2"}, {@code "--qos", "high"}). Options this cluster sets itself are
     * refused ({@code --array}, {@code --job-name}, {@code --partition}, {@code --cpus-per-task},
     * {@code --mem}, {@code --time}, {@code --signal}, {@code --output}, {@code --error},
     * {@code --export}, {@code --chdir}, {@code --requeue}, {@code --hold}, ... and their short forms):
     * use this builder's setters for them.
     */
    public Builder sbatchArgs(String... args) {
      once(this.sbatchArgs, "sbatchArgs");
      List<String> list = new ArrayList<>();
      for (String a : Arrays.asList(args)) {
        Objects.requireNonNull(a, "sbatchArgs element");
        checkSbatchArg(a);
        list.add(a);
      }
      if (!list.isEmpty() && !list.get(0).startsWith("-")) {
        throw new IllegalArgumentException("sbatchArgs must start with an option, not '" + list.get(0) + "'");
      }
      this.sbatchArgs = List.copyOf(list);
      return this;
    }

    /**
     * The {@code java} executable on the nodes, an absolute path; by default the pool's own, which then
     * must exist at the same path on the nodes.
     */
    public Builder java(Path java) {
      once(this.java, "java");
      Objects.requireNonNull(java, "java");
      if (!java.isAbsolute()) {
        throw new IllegalArgumentException("java must be an absolute path on the nodes, not " + java);
      }
      this.java = java;
      return this;
    }

    /** How classpath entries and file-valued transport properties reach the nodes; default {@link ClasspathStaging#AUTO}. */
    public Builder classpathStaging(ClasspathStaging staging) {
      once(this.classpathStaging, "classpathStaging");
      this.classpathStaging = Objects.requireNonNull(staging, "classpathStaging");
      return this;
    }

    /**
     * How long before its walltime a worker is sent {@code SIGUSR1} to retire (finish its task, take
     * no new one, leave; the pool starts a replacement): whole seconds, rounded up, at most 65535 and
     * less than {@link #time(Duration)}. Slurm may send it up to a minute earlier. Default two minutes,
     * or half the walltime when that is shorter.
     */
    public Builder retireBefore(Duration before) {
      once(this.retireBefore, "retireBefore");
      Objects.requireNonNull(before, "retireBefore");
      if (before.isNegative() || before.isZero()) {
        throw new IllegalArgumentException("retireBefore must be positive, not " + before);
      }
      if (ceilSeconds(before) > MAX_SIGNAL_SECONDS) {
        throw new IllegalArgumentException("retireBefore " + before + " is more than Slurm's limit of "
            + MAX_SIGNAL_SECONDS + " s for --signal");
      }
      this.retireBefore = before;
      return this;
    }

    /**
     * How long a worker job may stay pending for a reason that cannot clear as the cluster is
     * configured ({@code PartitionConfig}, {@code PartitionNodeLimit}, {@code PartitionTimeLimit},
     * {@code BadConstraints}, {@code InvalidAccount}, {@code QOSMax...PerJobLimit}, ...; e.g. more CPUs
     * than any node has) before the pool cancels it and fails with that reason. Slurm may show such a
     * reason briefly while nodes come back or the configuration changes. Default 10 seconds; zero
     * fails at once.
     */
    public Builder pendingGrace(Duration grace) {
      once(this.pendingGrace, "pendingGrace");
      Objects.requireNonNull(grace, "pendingGrace");
      if (grace.isNegative()) {
        throw new IllegalArgumentException("pendingGrace must not be negative, not " + grace);
      }
      this.pendingGrace = grace;
      return this;
    }

    /**
     * Variables of the pool's environment that the workers get, by name (e.g.
     * {@code "LD_LIBRARY_PATH"}), besides {@code PATH}, {@code HOME}, {@code USER},
     * {@code LOGNAME}, {@code TZ}, the locale ({@code LANG}, {@code LC_ALL}, {@code LC_CTYPE}) and
     * Slurm's own ({@code SLURM_*}, {@code SBATCH_*}). Nothing else of the pool's environment reaches
     * them: Slurm stores the environment of every job, readable by administrators, so never name a
     * variable holding a secret.
     */
    public Builder exportEnv(String... names) {
      once(this.exportEnv, "exportEnv");
      for (String n : names) {
        Objects.requireNonNull(n, "exportEnv element");
        if (!n.matches("[A-Za-z_][A-Za-z0-9_]*")) {
          throw new IllegalArgumentException("exportEnv: '" + n + "' is not an environment variable name");
        }
      }
      this.exportEnv = List.of(names);
      return this;
    }

    /**
     * The directory holding Slurm's {@code sbatch}, {@code squeue} and {@code scancel}; by default they
     * are looked up on the {@code PATH}.
     */
    public Builder commands(Path binDir) {
      once(this.commands, "commands");
      this.commands = Objects.requireNonNull(binDir, "commands").toAbsolutePath();
      return this;
    }

    /**
     * The cluster.
     *
     * @throws IllegalStateException if {@link #stagingDir(Path)} was not set, or {@link #retireBefore}
     *     is not shorter than {@link #time}
     */
    public SlurmCluster build() {
      if (stagingDir == null) {
        throw new IllegalStateException("SlurmCluster needs stagingDir(...): a directory every node sees at the same path");
      }
      if (retireBefore != null && time != null
          && ceilSeconds(retireBefore) >= 60L * minutesRoundedUp(time)) {
        throw new IllegalStateException("retireBefore " + retireBefore + " must be shorter than the walltime "
            + minutesRoundedUp(time) + " min");
      }
      return new SlurmCluster(this);
    }

    private static void once(Object current, String name) {
      if (current != null) {
        throw new IllegalStateException(name + " was already set");
      }
    }

    static void checkSbatchArg(String a) {
      if (a.indexOf('\0') >= 0 || a.indexOf('\n') >= 0) {
        throw new IllegalArgumentException("sbatch argument contains a NUL or newline: " + a);
      }
      if (a.startsWith("--")) {
        String name = a.substring(2);
        int eq = name.indexOf('=');
        if (eq >= 0) {
          name = name.substring(0, eq);
        }
        for (String none : NON_SUBMITTING_LONG_OPTIONS) {
          if (!name.isEmpty() && none.startsWith(name) && (name.length() > 2 || none.equals(name))) {
            throw new IllegalArgumentException("sbatch option --" + name + (none.equals(name) ? "" : " (--" + none + ")")
                + " makes sbatch submit no job, so no worker would ever start; it cannot be given in sbatchArgs");
          }
        }
        if (OWN_LONG_OPTIONS.contains(name)) {
          throw new IllegalArgumentException("sbatch option --" + name
              + " is set by SlurmCluster itself" + hint(name) + "; it cannot be given in sbatchArgs");
        }
        // sbatch takes abbreviations of long options (--part=x is --partition=x).
        for (String own : OWN_LONG_OPTIONS) {
          if (!name.isEmpty() && own.startsWith(name)) {
            throw new IllegalArgumentException("sbatch option --" + name + " abbreviates --" + own
                + ", which SlurmCluster sets itself" + hint(own) + "; it cannot be given in sbatchArgs");
          }
        }
      } else if (a.startsWith("-") && a.length() >= 2 && Character.isLetter(a.charAt(1))) {
        char c = a.charAt(1);
        if (NON_SUBMITTING_SHORT_OPTIONS.contains(c)) {
          throw new IllegalArgumentException("sbatch option -" + c + " makes sbatch submit no job, so no worker would"
              + " ever start; it cannot be given in sbatchArgs");
        }
        if (OWN_SHORT_OPTIONS.contains(c)) {
          throw new IllegalArgumentException("sbatch option -" + c + " is set by SlurmCluster itself"
              + hint(String.valueOf(c)) + "; it cannot be given in sbatchArgs");
        }
      }
    }

    private static String hint(String option) {
      switch (option) {
        case "partition": case "p": return " (use partition(...))";
        case "cpus-per-task": case "c": return " (use cpusPerWorker(...))";
        case "mem": case "mem-per-cpu": case "mem-per-gpu": return " (use memoryPerWorker(...))";
        case "time": case "t": return " (use time(...))";
        case "signal": return " (use retireBefore(...))";
        default: return "";
      }
    }
  }
}
