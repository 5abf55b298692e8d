package io.procpool.ipc.pipes;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.procpool.api.AsyncResult;
import io.procpool.api.ProcessPool;
import io.procpool.api.WorkerCrashedException;
import io.procpool.api.WorkerStartException;
import io.procpool.api.WorkerStats;
import io.procpool.testkit.LocalProcessCluster;
import io.procpool.testkit.NoLeakedProcessesExtension;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * The pool's cluster support (ProcessPool.Builder.cluster, scale, replacement, verdicts, cleanup)
 * against {@link LocalProcessCluster}, whose jobs are local processes: what a real engine's tests
 * (cluster-slurm) check again end to end.
 */
@ExtendWith(NoLeakedProcessesExtension.class)
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class PipesClusterTest {
  @TempDir Path tmp;

  private static void await(String what, BooleanSupplier condition) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out waiting until " + what);
      }
      Thread.sleep(20);
    }
  }

  private static long pid() {
    return ProcessHandle.current().pid();
  }

  @Test
  void clusterWorkersRunTasksAreReplacedWhenTheyDieScaleAndLeaveNoJobBehind() throws Exception {
    LocalProcessCluster cluster = new LocalProcessCluster(tmp);
    try (ProcessPool pool = ProcessPool.builder().cluster(cluster).clusterWorkers(2).build()) {
      assertEquals(0, pool.processes(), "no local workers by default with a cluster");
      await("both cluster workers joined", () -> pool.workerPids().size() == 2);
      assertFalse(pool.workerPids().contains(pid()));
      List<Long> pids = pool.map((Integer x) -> {
        Thread.sleep(50);
        return ProcessHandle.current().pid();
      }, IntStream.range(0, 20).boxed().collect(Collectors.toList()), 1);
      assertEquals(new HashSet<>(pool.workerPids()), new HashSet<>(pids), "the map used both cluster workers");
      assertEquals(2, cluster.launchIds().size(), "one request for two workers: " + cluster.launchIds());

      // A busy worker's node fails: its task fails with the engine's verdict, and the pool asks for
      // a replacement.
      AsyncResult<Long> busy = pool.applyAsync(() -> {
        Thread.sleep(60_000);
        return 1L;
      });
      await("a worker is busy", () -> pool.stats().running() == 1);
      long busyPid = pool.stats().workers().stream().filter(w -> w.state() == WorkerStats.State.BUSY)
          .findFirst().orElseThrow().pid();
      String job = cluster.launchIds().stream().filter(id -> cluster.process(id).pid() == busyPid).findFirst().orElseThrow();
      cluster.failNode(job);
      long t0 = System.nanoTime();
      ExecutionException e = assertThrows(ExecutionException.class, () -> busy.get(30, TimeUnit.SECONDS));
      assertTrue(e.getCause() instanceof WorkerCrashedException, String.valueOf(e.getCause()));
      WorkerCrashedException crash = (WorkerCrashedException) e.getCause();
      assertEquals("NODE_FAIL", crash.verdict().orElse(null), crash.getMessage());
      assertTrue(crash.getMessage().contains("local job " + job), crash.getMessage());
      assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(5), "failed within seconds");
      await("a replacement joined", () -> pool.workerPids().size() == 2 && !pool.workerPids().contains(busyPid));
      assertEquals(3, cluster.launchIds().size(), cluster.launchIds().toString());
      assertEquals(1, pool.stats().workersLost());

      pool.scale(3);
      await("three cluster workers", () -> pool.workerPids().size() == 3);
      assertEquals(3, cluster.liveJobs().size());
      pool.scale(1);
      await("one job left", () -> cluster.liveJobs().size() == 1 && pool.workerPids().size() == 1);
      assertEquals(List.of(7), pool.map((Integer x) -> x + 1, List.of(6)));
      // A job held in the engine's queue when the pool closes is cancelled too.
      cluster.holdNext("Resources", false);
      pool.scale(2);
      await("the held job is pending", () -> cluster.liveJobs().values().stream()
          .anyMatch(s -> s.phase().name().equals("PENDING")));
    }
    assertEquals(0, cluster.liveJobs().size(), "close() left jobs: " + cluster.liveJobs());
    assertEquals(0, cluster.openSessions(), "close() closed the session");
  }

  @Test
  void adaptGrowsWithTheBacklogAndShrinksOnceTheSurplusLasted() throws Exception {
    LocalProcessCluster cluster = new LocalProcessCluster(tmp);
    try (ProcessPool pool = ProcessPool.builder().cluster(cluster).clusterWorkers(1).build()) {
      assertThrows(IllegalArgumentException.class, () -> pool.adapt(2, 1));
      assertThrows(IllegalArgumentException.class, () -> pool.adapt(0, 0), "no local worker would be left");
      pool.adapt(1, 3, Duration.ofMillis(500));
      List<AsyncResult<Integer>> slow = IntStream.range(0, 6).mapToObj(i -> pool.applyAsync(() -> {
        Thread.sleep(1500);
        return i;
      })).collect(Collectors.toList());
      await("the backlog brought the pool to its maximum of 3", () -> pool.workerPids().size() == 3);
      for (int i = 0; i < slow.size(); i++) {
        assertEquals(i, slow.get(i).get(60, TimeUnit.SECONDS));
      }
      await("the idle surplus went back to the minimum", () -> cluster.liveJobs().size() == 1
          && pool.workerPids().size() == 1);
      assertTrue(cluster.launchIds().size() <= 3 + 1, "never more than max at once: " + cluster.launchIds());
      pool.scale(2); // a fixed count ends adaptive scaling
      await("two workers", () -> pool.workerPids().size() == 2);
    }
    assertEquals(0, cluster.liveJobs().size());
  }

  @Test
  void aWorkerThatStopsAnsweringIsDroppedWithinTheSilenceLimit() throws Exception {
    LocalProcessCluster cluster = new LocalProcessCluster(tmp);
    try (ProcessPool pool = ProcessPool.builder().cluster(cluster).clusterWorkers(1).build()) {
      String job = cluster.launchIds().get(0);
      long pid = cluster.process(job).pid();
      AsyncResult<Integer> busy = pool.applyAsync(() -> {
        Thread.sleep(60_000);
        return 1;
      });
      await("the task runs", () -> pool.stats().running() == 1);
      // A node cut off: the worker neither answers nor closes its connection.
      new ProcessBuilder("kill", "-STOP", Long.toString(pid)).inheritIO().start().waitFor();
      long t0 = System.nanoTime();
      try {
        ExecutionException e = assertThrows(ExecutionException.class, () -> busy.get(60, TimeUnit.SECONDS));
        double seconds = (System.nanoTime() - t0) / 1e9;
        assertTrue(e.getCause() instanceof WorkerCrashedException, String.valueOf(e.getCause()));
        assertTrue(e.getCause().getMessage().contains("no answer from it for 8 s"), e.getCause().getMessage());
        assertTrue(seconds >= 6 && seconds < 12, "dropped after the 8 s silence limit (+ a heartbeat): " + seconds + " s");
      } finally {
        new ProcessBuilder("kill", "-CONT", Long.toString(pid)).inheritIO().start().waitFor();
      }
      await("a replacement joined", () -> pool.workerPids().size() == 1 && cluster.launchIds().size() == 2);
      assertEquals(5, pool.apply((Integer x) -> x + 1, 4));
    }
    assertEquals(0, cluster.liveJobs().size());
  }

  @Test
  void aRequestTheEngineCanNeverMeetFailsTheBuildNamingTheReason() {
    LocalProcessCluster cluster = new LocalProcessCluster(tmp);
    cluster.holdNext("PartitionConfig", true);
    long t0 = System.nanoTime();
    WorkerStartException e = assertThrows(WorkerStartException.class,
        () -> ProcessPool.builder().cluster(cluster).clusterWorkers(2).build());
    assertTrue(e.getMessage().contains("PartitionConfig"), e.getMessage());
    assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(30), "within the grace period and a poll or two");
    assertEquals(0, cluster.liveJobs().size(), "the pending jobs were cancelled: " + cluster.liveJobs());
  }

  @Test
  void withLocalWorkersAnUnsatisfiableRequestStopsTheClusterPartNotThePool() throws Exception {
    LocalProcessCluster cluster = new LocalProcessCluster(tmp);
    try (ProcessPool pool = ProcessPool.builder().processes(1).cluster(cluster).clusterWorkers(0).build()) {
      cluster.holdNext("PartitionConfig", true);
      pool.scale(2);
      await("the request was given up and its jobs cancelled", () -> cluster.launchIds().size() == 2
          && cluster.liveJobs().isEmpty());
      WorkerStartException e = assertThrows(WorkerStartException.class, () -> pool.scale(3));
      assertTrue(e.getMessage().contains("PartitionConfig"), e.getMessage());
      assertThrows(WorkerStartException.class, () -> pool.adapt(1, 2));
      assertEquals(List.of(2, 3), pool.map((Integer x) -> x + 1, List.of(1, 2)), "the local worker goes on");
      assertEquals(2, cluster.launchIds().size(), "nothing more was asked of the cluster: " + cluster.launchIds());
    }
    assertEquals(0, cluster.liveJobs().size());
  }

  @Test
  void aJobThatEndsBeforeConnectingFailsTheBuildWithItsLogTail() {
    LocalProcessCluster cluster = new LocalProcessCluster(tmp);
    WorkerStartException e = assertThrows(WorkerStartException.class,
        () -> ProcessPool.builder().cluster(cluster).clusterWorkers(1).jvmOptions("-XX:+NoSuchJvmOption").build());
    assertTrue(e.getMessage().contains("NoSuchJvmOption"), "the job's output is in the message: " + e.getMessage());
    assertTrue(e.getMessage().contains("local job"), e.getMessage());
    assertEquals(0, cluster.liveJobs().size());
  }

  @Test
  void localAndClusterWorkersServeOnePoolAndTerminateCancelsTheJobs() throws Exception {
    LocalProcessCluster cluster = new LocalProcessCluster(tmp);
    ProcessPool pool = ProcessPool.builder().processes(1).cluster(cluster).clusterWorkers(1).build();
    try {
      assertEquals(1, pool.processes());
      await("both workers joined", () -> pool.workerPids().size() == 2);
      Path handover = cluster.sessionDirectory(cluster.launchIds().get(0)).resolve("handover");
      assertTrue(Files.exists(handover));
      // A walltime warning (SIGUSR1) retires the cluster worker: a replacement job comes, nothing is lost.
      String first = cluster.launchIds().get(0);
      long firstPid = cluster.process(first).pid();
      AsyncResult<Integer> running = pool.applyAsync(() -> {
        Thread.sleep(1500);
        return 42;
      });
      AsyncResult<Integer> second = pool.applyAsync(() -> {
        Thread.sleep(1500);
        return 43;
      });
      await("both workers busy", () -> pool.stats().running() == 2);
      new ProcessBuilder("kill", "-USR1", Long.toString(firstPid)).inheritIO().start().waitFor();
      assertEquals(42, running.get(60, TimeUnit.SECONDS));
      assertEquals(43, second.get(60, TimeUnit.SECONDS));
      await("the retired job ended and a replacement joined", () -> cluster.launchIds().size() == 2
          && pool.workerPids().size() == 2 && !pool.workerPids().contains(firstPid));
      assertEquals(0, pool.stats().workersLost(), "retiring is not a loss");
      assertNotEquals(firstPid, cluster.process(cluster.launchIds().get(1)).pid());
    } finally {
      pool.terminate();
    }
    assertEquals(0, cluster.liveJobs().size(), "terminate() left jobs: " + cluster.liveJobs());
    assertEquals(0, cluster.openSessions());
    try (ProcessPool local = ProcessPool.builder().processes(1).build()) {
      assertThrows(UnsupportedOperationException.class, () -> local.scale(2), "no cluster");
    }
  }
}
