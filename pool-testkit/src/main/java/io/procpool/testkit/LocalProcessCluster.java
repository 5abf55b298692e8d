package io.procpool.testkit;

import io.procpool.api.cluster.Cluster;
import io.procpool.api.cluster.ClusterSession;
import io.procpool.api.cluster.JobStatus;
import io.procpool.api.cluster.WorkerCommand;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

/**
 * A {@link Cluster} whose "jobs" are processes on this machine: for testing the pool's cluster
 * support (and a cluster SPI implementation's expectations) without an engine. Each job runs the
 * {@link WorkerCommand} as given, with {@link WorkerCommand#LAUNCH_ID_ENV} set and the handover in a
 * 0600 file of a 0700 directory; its output goes to a file ({@link ClusterSession#logTail}).
 * {@link #failNode(String)} kills a job as a lost node would.
 *
 * <p>Like an engine it can hold jobs: {@link #holdNext(String, boolean)} makes the next jobs stay
 * PENDING with that reason (for ever, or until {@link #release()}). A cancelled job gets SIGTERM and
 * ends {@code CANCELLED} (unless it had already ended); a job whose process exits ends {@code COMPLETED}
 * (code 0) or {@code FAILED}.
 */
public final class LocalProcessCluster implements Cluster {
  private final Path dir;
  private final AtomicInteger jobIds = new AtomicInteger(100);
  private final List<Session> sessions = new CopyOnWriteArrayList<>();
  private volatile String holdReason;
  private volatile boolean holdPermanent;

  /** @param dir where sessions put their handover and output files */
  public LocalProcessCluster(Path dir) {
    this.dir = dir;
  }

  /** Jobs submitted from now on stay pending with {@code reason} until {@link #release()}. */
  public void holdNext(String reason, boolean permanent) {
    this.holdReason = reason;
    this.holdPermanent = permanent;
  }

  /** Starts the held jobs and stops holding new ones. */
  public void release() {
    holdReason = null;
    for (Session s : sessions) {
      s.releaseHeld();
    }
  }

  /** The jobs of every session that are pending or running, by launch id. */
  public Map<String, JobStatus> liveJobs() {
    Map<String, JobStatus> live = new LinkedHashMap<>();
    for (Session s : sessions) {
      s.poll().forEach((id, st) -> {
        if (st.phase() != JobStatus.Phase.ENDED) {
          live.put(id, st);
        }
      });
    }
    return live;
  }

  /** Every session's launch ids, in submission order. */
  public List<String> launchIds() {
    List<String> ids = new ArrayList<>();
    sessions.forEach(s -> ids.addAll(s.jobs.keySet()));
    return ids;
  }

  /** The OS process of a running job, to kill it as a node failure would. */
  public ProcessHandle process(String launchId) {
    for (Session s : sessions) {
      Job j = s.jobs.get(launchId);
      if (j != null && j.process != null) {
        return j.process.toHandle();
      }
    }
    throw new IllegalArgumentException("no running job " + launchId);
  }

  /** Kills a running job's process as the loss of its node would (SIGKILL); it ends {@code NODE_FAIL}. */
  public void failNode(String launchId) {
    for (Session s : sessions) {
      Job j = s.jobs.get(launchId);
      if (j != null && j.process != null) {
        j.nodeFailed = true;
        j.process.destroyForcibly();
        return;
      }
    }
    throw new IllegalArgumentException("no running job " + launchId);
  }

  /** How many sessions were opened and are not closed. */
  public int openSessions() {
    return (int) sessions.stream().filter(s -> !s.closed).count();
  }

  /** The directory of the session of the given job (where its handover file is). */
  public Path sessionDirectory(String launchId) {
    for (Session s : sessions) {
      if (s.jobs.containsKey(launchId)) {
        return s.dir;
      }
    }
    throw new IllegalArgumentException("no job " + launchId);
  }

  @Override
  public String name() {
    return "local-process";
  }

  @Override
  public ClusterSession open(WorkerCommand command) throws IOException {
    Files.createDirectories(dir);
    Path sessionDir = Files.createTempDirectory(dir, command.jobName() + "-",
        PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
    Path handover = Files.createFile(sessionDir.resolve("handover"),
        PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
    Files.write(handover, command.handover());
    Session s = new Session(command, sessionDir, handover);
    sessions.add(s);
    return s;
  }

  private static final class Job {
    final String id;
    volatile Process process;
    volatile String heldReason;
    volatile boolean heldPermanent;
    volatile boolean cancelled;
    volatile boolean nodeFailed;
    volatile boolean endedWithoutStart;

    Job(String id) {
      this.id = id;
    }
  }

  private final class Session implements ClusterSession {
    final WorkerCommand command;
    final Path dir;
    final Path handover;
    final Map<String, Job> jobs = new ConcurrentHashMap<>();
    volatile boolean closed;

    Session(WorkerCommand command, Path dir, Path handover) {
      this.command = command;
      this.dir = dir;
      this.handover = handover;
    }

    @Override
    public List<String> submit(int count) throws IOException {
      if (closed) {
        throw new IOException("session closed");
      }
      int array = jobIds.incrementAndGet();
      List<String> ids = new ArrayList<>();
      for (int i = 0; i < count; i++) {
        Job j = new Job(array + "_" + i);
        jobs.put(j.id, j);
        ids.add(j.id);
        if (holdReason != null) {
          j.heldReason = holdReason;
          j.heldPermanent = holdPermanent;
        } else {
          start(j);
        }
      }
      return ids;
    }

    void releaseHeld() {
      for (Job j : jobs.values()) {
        if (j.heldReason != null && !j.cancelled) {
          j.heldReason = null;
          try {
            start(j);
          } catch (IOException e) {
            j.endedWithoutStart = true;
          }
        }
      }
    }

    private void start(Job j) throws IOException {
      List<String> cmd = new ArrayList<>();
      cmd.add(command.java().toString());
      cmd.addAll(command.jvmOptions());
      cmd.add("-cp");
      cmd.add(String.join(File.pathSeparator, command.classpath().stream().map(Path::toString).toList()));
      cmd.add(command.mainClass());
      cmd.addAll(command.arguments(handover.toString()));
      ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true)
          .redirectOutput(dir.resolve(j.id + ".out").toFile());
      pb.environment().put(WorkerCommand.LAUNCH_ID_ENV, j.id);
      j.process = pb.start();
    }

    @Override
    public Map<String, JobStatus> poll() {
      Map<String, JobStatus> out = new LinkedHashMap<>();
      for (Job j : jobs.values()) {
        Process p = j.process;
        if (p == null) {
          out.put(j.id, j.cancelled || j.endedWithoutStart ? JobStatus.ended(j.cancelled ? "CANCELLED" : "FAILED", null, null)
              : JobStatus.pending(j.heldReason, j.heldPermanent));
        } else if (p.isAlive()) {
          out.put(j.id, JobStatus.running("localhost"));
        } else {
          int code = p.exitValue();
          out.put(j.id, JobStatus.ended(j.nodeFailed ? "NODE_FAIL" : j.cancelled ? "CANCELLED"
              : code == 0 ? "COMPLETED" : "FAILED", code, "localhost"));
        }
      }
      return out;
    }

    @Override
    public void cancel(String launchId) {
      Job j = jobs.get(launchId);
      if (j != null) {
        Process p = j.process;
        if (p == null || p.isAlive()) {
          j.cancelled = true; // an ended job keeps its verdict
        }
        if (p != null) {
          p.destroy(); // SIGTERM, as an engine's cancel
        }
      }
    }

    @Override
    public boolean cancelAll(Duration timeout) {
      jobs.keySet().forEach(this::cancel);
      long deadline = System.nanoTime() + timeout.toNanos();
      for (Job j : jobs.values()) {
        Process p = j.process;
        if (p == null) {
          continue;
        }
        try {
          if (!p.waitFor(Math.max(0, deadline - System.nanoTime()), java.util.concurrent.TimeUnit.NANOSECONDS)) {
            p.destroyForcibly();
            return false;
          }
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return false;
        }
      }
      return true;
    }

    @Override
    public String logTail(String launchId, int maxLines) {
      try {
        List<String> lines = Files.readAllLines(dir.resolve(launchId + ".out"));
        return String.join("\n", lines.subList(Math.max(0, lines.size() - maxLines), lines.size()));
      } catch (IOException e) {
        return "";
      }
    }

    @Override
    public Duration pollInterval() {
      return Duration.ofMillis(200);
    }

    @Override
    public Duration pendingGrace() {
      return Duration.ofMillis(500);
    }

    @Override
    public String describe(String launchId) {
      return "local job " + launchId;
    }

    @Override
    public void close() {
      closed = true;
      try (Stream<Path> files = Files.walk(dir)) {
        files.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
      } catch (IOException e) {
        // best effort
      }
    }
  }
}
