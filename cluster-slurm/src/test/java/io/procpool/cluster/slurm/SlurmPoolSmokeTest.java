package io.procpool.cluster.slurm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.procpool.api.ProcessPool;
import io.procpool.cluster.slurm.testing.SlurmTest;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The module's one pool-level check: a pool whose two workers Slurm places (gRPC on loopback) runs a
 * map on them, and closing it leaves no job and no session directory. (The end-to-end suite goes
 * further.)
 */
@SlurmTest
class SlurmPoolSmokeTest {
  @TempDir Path tmp;

  @Test
  void twoSlurmWorkersRunAMapAndCloseLeavesNothing() throws Exception {
    Path staging = Files.createDirectories(tmp.resolve("staging"));
    SlurmCluster slurm = SlurmCluster.builder().stagingDir(staging).time(Duration.ofMinutes(5)).build();
    try (ProcessPool pool = ProcessPool.builder().transport("grpc").processes(0).cluster(slurm).clusterWorkers(2).build()) {
      assertEquals(List.of(2, 4, 6, 8), pool.map((Integer x) -> x * 2, List.of(1, 2, 3, 4)));
    }
    assertEquals("", jobsOfThisJvm(), "close() cancelled every job");
    try (var left = Files.list(staging)) {
      List<Path> l = left.toList();
      assertTrue(l.isEmpty(), "session directory deleted: " + l);
    }
  }

  /** Jobs not yet over whose name is that of a pool of this JVM ({@code procpool-<pid>-<n>}). */
  private static String jobsOfThisJvm() throws Exception {
    Process p = new ProcessBuilder("squeue", "-h", "-a", "-r", "-t", "PD,R,CG,CF,S,ST", "-o", "%i %j %T")
        .redirectErrorStream(true).start();
    assertTrue(p.waitFor(30, TimeUnit.SECONDS));
    String prefix = "procpool-" + ProcessHandle.current().pid() + "-";
    return new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).lines()
        .filter(l -> l.split(" ").length > 1 && l.split(" ")[1].startsWith(prefix)).collect(Collectors.joining("\n"));
  }
}
