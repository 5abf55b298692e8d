package io.procpool.cluster.slurm;

import static io.procpool.cluster.slurm.SlurmE2E.WAIT;
import static io.procpool.cluster.slurm.SlurmE2E.await;
import static io.procpool.cluster.slurm.SlurmE2E.awaitHeld;
import static io.procpool.cluster.slurm.SlurmE2E.liveJobIds;
import static io.procpool.cluster.slurm.SlurmE2E.release;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.procpool.api.AsyncResult;
import io.procpool.api.ProcessPool;
import io.procpool.api.WorkerCrashedException;
import io.procpool.api.WorkerStartException;
import io.procpool.cluster.slurm.testing.SlurmTest;
import io.procpool.cluster.slurm.testing.SlurmTestCluster;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Pools whose workers Slurm places on partition {@code local} (this host), end to end through the public
 * API: a job array joins and serves a map, {@code scancel} of a busy worker, the walltime signal, a pending
 * job at close and terminate, an impossible request and a worker JVM that cannot start. The pools are
 * reused across points where they allow it (each JVM start costs about a second on the test machine).
 */
@SlurmTest
@Timeout(value = 4, unit = TimeUnit.MINUTES)
class SlurmPoolTest {
  private static Path staging;

  @BeforeAll
  static void createStaging() {
    staging = SlurmTestCluster.stagingDirectory("pool");
  }

  @AfterAll
  static void deleteStaging() {
    if (staging != null) {
      SlurmTestCluster.deleteTree(staging);
    }
  }

  @AfterEach
  void noJobLeft() {
    List<SlurmTestCluster.Job> left = SlurmE2E.cancelLeftovers();
    assertEquals(List.of(), left, "the test left jobs of its pools in squeue (cancelled now)");
  }

  /**
   * Points 1, 3 (without retry), 7 and 4 (close): 4 workers of 2 CPUs each (the whole node) as one job
   * array; a map uses them all; scancel of a busy worker fails exactly its task, with verdict CANCELLED when known,
   * and a replacement job joins; SIGUSR1 to the batch step (what --signal=B:USR1@N sends before the
   * walltime) lets the busy task finish, then the job ends and a replacement joins; close() with a
   * pending job (a fifth worker finds no CPUs) leaves nothing in squeue.
   */
  @Test
  void anArrayOfFourServesAMapScancelFailsOnlyItsTaskTheWalltimeSignalDrainsAndCloseCancelsPending() throws Exception {
    Path tasks = SlurmE2E.taskDir(staging.resolve("array"));
    Path bin = SlurmE2E.recordingCommands(staging.resolve("array"));
    SlurmCluster slurm = SlurmCluster.builder().partition(SlurmTestCluster.LOCAL_PARTITION).cpusPerWorker(2)
        .time(Duration.ofMinutes(10)).stagingDir(staging).commands(bin).build();
    String dir = tasks.toString();
    long t0 = System.nanoTime();
    try (ProcessPool pool = ProcessPool.builder().transport("grpc").processes(0).cluster(slurm).clusterWorkers(4)
        .build()) {
      try {
      await("4 workers joined", WAIT, () -> pool.workerPids().size() == 4);
      long joined = System.nanoTime() - t0;
      List<String> calls = SlurmE2E.sbatchCalls(bin);
      assertEquals(1, calls.size(), "one sbatch for 4 workers: " + calls);
      assertTrue(calls.get(0).contains("--array=0-3"), "a job array of 4: " + calls.get(0));
      assertTrue(calls.get(0).matches(".*--signal=B:USR1@[0-9]+.*"), "the walltime warning goes to the batch step: "
          + calls.get(0));
      List<String> jobs = liveJobIds();
      assertEquals(4, jobs.size(), "squeue: " + jobs);
      String arrayId = jobs.get(0).substring(0, jobs.get(0).indexOf('_'));
      assertTrue(jobs.stream().allMatch(j -> j.startsWith(arrayId + "_")), "one array: " + jobs);

      // Point 1: a map uses all 4 workers.
      List<String> where = pool.map((Integer i) -> {
        Thread.sleep(300); // work long enough that every worker gets some
        return ProcessHandle.current().pid() + " " + SlurmE2E.where();
      }, IntStream.range(0, 16).boxed().collect(Collectors.toList()), 1);
      Map<String, Integer> perPid = new HashMap<>();
      Set<String> launchIds = new HashSet<>();
      for (String w : where) {
        String[] f = w.split(" ");
        perPid.merge(f[0], 1, Integer::sum);
        launchIds.add(f[1]);
      }
      assertEquals(4, perPid.size(), "4 distinct worker pids got tasks: " + perPid);
      assertEquals(new HashSet<>(pool.workerPids().stream().map(String::valueOf).toList()), perPid.keySet());
      assertEquals(new HashSet<>(jobs), launchIds, "each task ran in one of the array's jobs");

      // Point 3: scancel of a busy worker fails exactly its task, within 2 s, verdict CANCELLED when known.
      AsyncResult<String> victim = pool.applyAsync(() -> SlurmE2E.holdUntilReleased(dir, "victim"));
      AsyncResult<String> bystander = pool.applyAsync(() -> SlurmE2E.holdUntilReleased(dir, "bystander"));
      String victimJob = awaitHeld(tasks, "victim").split(" ")[0];
      awaitHeld(tasks, "bystander");
      long c0 = System.nanoTime();
      SlurmE2E.slurm("scancel", victimJob);
      ExecutionException e = assertThrows(ExecutionException.class, () -> victim.get(30, TimeUnit.SECONDS));
      long failedAfter = System.nanoTime() - c0;
      WorkerCrashedException crash = assertInstanceOf(WorkerCrashedException.class, e.getCause());
      assertTrue(failedAfter < TimeUnit.SECONDS.toNanos(2), "failed " + failedAfter / 1_000_000 + " ms after scancel");
      // A lost worker's job is polled every 150 ms for 1.5 s: Slurm's verdict arrives with the failure.
      assertEquals("CANCELLED", crash.verdict().orElse(null), "verdict of " + crash.getMessage());
      System.out.println("[slurm e2e] scancel: task failed after " + failedAfter / 1_000_000 + " ms, verdict "
          + crash.verdict() + ": " + crash.getMessage());
      assertFalse(bystander.isDone(), "the other busy worker's task goes on");
      release(tasks, "bystander");
      assertFalse(bystander.get(30, TimeUnit.SECONDS).startsWith(victimJob + " "));
      await("a replacement job of the pool runs", WAIT, () -> {
        List<String> now = liveJobIds();
        return now.size() == 4 && !now.contains(victimJob) && !new HashSet<>(jobs).containsAll(now);
      });
      await("the replacement joined", WAIT, () -> pool.workerPids().size() == 4);
      assertEquals(1, pool.stats().workersLost());

      // Point 7: the walltime warning retires a busy worker after its task.
      List<String> beforeRetire = liveJobIds();
      AsyncResult<String> draining = pool.applyAsync(() -> SlurmE2E.holdUntilReleased(dir, "draining"));
      String drainingJob = awaitHeld(tasks, "draining").split(" ")[0];
      SlurmE2E.slurm("scancel", "--signal=USR1", "--batch", drainingJob);
      // While its task holds, the retiring job runs and the other workers serve.
      assertEquals(List.of(1, 2, 3, 4), pool.map((Integer i) -> i, List.of(1, 2, 3, 4)));
      assertTrue(liveJobIds().contains(drainingJob), "the retiring worker's job runs until its task is done");
      assertFalse(draining.isDone());
      release(tasks, "draining");
      assertTrue(draining.get(30, TimeUnit.SECONDS).startsWith(drainingJob + " "), "the task completed normally");
      await("the retired job ended and a replacement runs", WAIT, () -> {
        List<String> now = liveJobIds();
        return !now.contains(drainingJob) && now.size() == 4 && !new HashSet<>(beforeRetire).containsAll(now);
      });
      await("the replacement joined", WAIT, () -> pool.workerPids().size() == 4);
      assertEquals(1, pool.stats().workersLost(), "retiring is not a loss");

      // Point 4 (close): a fifth worker pends (the node's 8 CPUs are taken); close() cancels it too.
      pool.scale(5);
      await("a fifth job is pending", WAIT, () -> SlurmTestCluster.jobs(SlurmTestCluster.poolJobPrefix()).stream()
          .anyMatch(j -> j.state().equals("PENDING")));
      System.out.println("[slurm e2e] 4 workers joined " + joined / 1_000_000 + " ms after build() began; scancel"
          + " failed the task in " + failedAfter / 1_000_000 + " ms");
      } finally {
        SlurmE2E.releaseAll(tasks); // a failed test's pool closes without waiting for held tasks
      }
    }
    List<String> afterClose = liveJobIds();
    assertEquals(List.of(), afterClose, "close() waited until Slurm had no job of the pool, pending ones included");
  }

  /**
   * Points 3 (with retryOnCrash) and 4 (terminate): a worker of 8 CPUs (the whole node) cancelled while
   * busy: its task is retried on the replacement and its value arrives; a second worker pends
   * (Resources); terminate() cancels it too.
   */
  @Test
  void withRetryTheValueOfACancelledWorkersTaskArrivesAndTerminateCancelsPending() throws Exception {
    Path tasks = SlurmE2E.taskDir(staging.resolve("retry"));
    String dir = tasks.toString();
    SlurmCluster slurm = SlurmCluster.builder().partition(SlurmTestCluster.LOCAL_PARTITION).cpusPerWorker(8)
        .stagingDir(staging).build();
    ProcessPool pool = ProcessPool.builder().transport("grpc").processes(0).cluster(slurm).clusterWorkers(1)
        .retryOnCrash(1).build();
    try {
      // The first attempt holds until its worker is cancelled; the retried one finds its marker and returns.
      AsyncResult<String> task = pool.applyAsync(() -> java.nio.file.Files.exists(Path.of(dir, "first.at"))
          ? "retried " + SlurmE2E.where()
          : "first attempt " + SlurmE2E.holdUntilReleased(dir, "first"));
      String firstJob = awaitHeld(tasks, "first").split(" ")[0];
      SlurmE2E.slurm("scancel", firstJob);
      String value = task.get(60, TimeUnit.SECONDS);
      assertTrue(value.startsWith("retried "), value);
      assertNotEquals(firstJob, value.split(" ")[1], "retried on the replacement job");
      assertEquals(1, pool.stats().workersLost());

      pool.scale(2);
      await("the second job pends (the node is full)", WAIT, () -> SlurmTestCluster.jobs(
          SlurmTestCluster.poolJobPrefix()).stream().anyMatch(j -> j.state().equals("PENDING")));
    } finally {
      SlurmE2E.releaseAll(tasks);
      pool.terminate();
    }
    assertEquals(List.of(), liveJobIds(), "terminate() waited until Slurm had no job of the pool, pending ones included");
  }

  /** Point 5: a request no node can meet fails build() with Slurm's pending reason and leaves no job. */
  @Test
  void anImpossibleRequestFailsTheBuildNamingTheReason() {
    SlurmCluster slurm = SlurmCluster.builder().partition(SlurmTestCluster.LOCAL_PARTITION).cpusPerWorker(64)
        .pendingGrace(Duration.ofSeconds(2)).stagingDir(staging).build();
    long t0 = System.nanoTime();
    WorkerStartException e = assertThrows(WorkerStartException.class, () -> ProcessPool.builder().transport("grpc")
        .processes(0).cluster(slurm).clusterWorkers(2).build().close());
    long took = System.nanoTime() - t0;
    assertTrue(e.getMessage().contains("PartitionConfig"), e.getMessage());
    assertTrue(took < TimeUnit.SECONDS.toNanos(2 + 10), "within the grace period (2 s) and a few polls: "
        + took / 1_000_000 + " ms");
    assertEquals(List.of(), liveJobIds(), "the pending jobs were cancelled");
  }

  /** Point 6: a worker JVM that cannot start gives a WorkerStartException with the job's log tail. */
  @Test
  void aBadJvmOptionFailsTheBuildWithTheJobsLogTail() {
    SlurmCluster slurm = SlurmCluster.builder().partition(SlurmTestCluster.LOCAL_PARTITION).stagingDir(staging)
        .build();
    WorkerStartException e = assertThrows(WorkerStartException.class, () -> ProcessPool.builder().transport("grpc")
        .processes(0).cluster(slurm).clusterWorkers(1).jvmOptions("-XX:+NoSuchOption").build().close());
    assertTrue(e.getMessage().contains("Unrecognized VM option 'NoSuchOption'"), "the JVM's words: " + e.getMessage());
    assertEquals(List.of(), liveJobIds());
  }
}
