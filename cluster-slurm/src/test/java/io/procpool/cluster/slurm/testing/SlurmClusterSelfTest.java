package io.procpool.cluster.slurm.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/** The Slurm test support against the real test cluster (~2 s; skipped when there is no cluster). */
@SlurmTest
class SlurmClusterSelfTest {

  private final String prefix = SlurmTestCluster.uniqueJobPrefix("selftest");

  @AfterEach
  void cancelOurJobs() {
    SlurmTestCluster.cancelJobs(prefix);
    SlurmTestCluster.awaitNoJobs(prefix, Duration.ofSeconds(30));
  }

  @Test
  void partitionsHaveTheirNodes() throws Exception {
    String self = SlurmTestCluster.run(List.of("hostname", "-s"), Duration.ofSeconds(5)).output().strip();
    assertEquals(List.of(self), SlurmTestCluster.hostnames(SlurmTestCluster.LOCAL_PARTITION));
    assertEquals(List.of("n1", "n2"), SlurmTestCluster.hostnames(SlurmTestCluster.NET_PARTITION));
  }

  @Test
  void aTestJobIsListedCancelledAndGone() {
    var r = SlurmTestCluster.run(List.of("sbatch", "--parsable", "-J", prefix + "sleep", "-o", "/dev/null",
        "-t", "1", "--wrap", "sleep 60"), Duration.ofSeconds(10));
    assertEquals(0, r.exitCode(), r.output());
    String id = r.output().strip();
    var jobs = SlurmTestCluster.jobs(prefix);
    assertEquals(1, jobs.size(), jobs.toString());
    assertEquals(id, jobs.get(0).id());
    assertEquals(1, SlurmTestCluster.cancelJobs(prefix));
    SlurmTestCluster.awaitNoJobs(prefix, Duration.ofSeconds(30));
    assertTrue(SlurmTestCluster.jobsIncludingEnded(prefix).stream()
        .anyMatch(j -> j.id().equals(id) && j.state().equals("CANCELLED")));
  }

  @Test
  void nonRootUserRunsFromItsStagingDirectory() throws Exception {
    Assumptions.assumeTrue(SlurmTestCluster.isRoot() && SlurmTestCluster.nonRootUserExists(),
        "needs root and user " + SlurmTestCluster.NON_ROOT_USER);
    Path dir = SlurmTestCluster.nonRootStagingDirectory("selftest");
    try {
      Path jar = Files.writeString(Files.createTempFile("procpool-selftest", ".jar"), "jar");
      List<Path> copies = SlurmTestCluster.copyClasspath(List.of(jar), dir);
      Files.delete(jar);
      var r = SlurmTestCluster.runAsNonRoot(
          List.of("sh", "-c", "id -un; cat \"$1\"", "sh", copies.get(0).toString()), Duration.ofSeconds(10));
      assertEquals(0, r.exitCode(), r.output());
      assertEquals(SlurmTestCluster.NON_ROOT_USER + "\njar", r.output().strip());
    } finally {
      SlurmTestCluster.deleteTree(dir);
    }
  }
}
