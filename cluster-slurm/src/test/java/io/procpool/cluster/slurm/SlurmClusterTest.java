package io.procpool.cluster.slurm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.procpool.api.cluster.Cluster;
import io.procpool.api.cluster.ClusterRegistry;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The builder's and the provider's validation. */
class SlurmClusterTest {

  private static SlurmCluster.Builder b() {
    return SlurmCluster.builder().stagingDir(Path.of("/shared/stage"));
  }

  @Test
  void defaultsAndRounding() {
    SlurmCluster c = b().build();
    assertEquals(1, c.cpusPerWorker());
    assertEquals(Duration.ofMinutes(2), c.retireBefore());
    assertTrue(c.time().isEmpty() && c.partition().isEmpty() && c.memoryPerWorker().isEmpty());
    assertEquals(SlurmCluster.ClasspathStaging.AUTO, c.classpathStaging());
    assertEquals("slurm", c.name());
    assertEquals(Duration.ofSeconds(10), c.pendingGrace());
    assertEquals(Duration.ZERO, b().pendingGrace(Duration.ZERO).build().pendingGrace());
    c = b().time(Duration.ofSeconds(90)).build();
    assertEquals(2, c.timeMinutes().getAsInt());
    assertEquals(Duration.ofSeconds(45), c.retireBefore(), "bounded by the walltime: half of it");
    assertEquals(60, b().time(Duration.ofHours(8)).build().timeMinutes().getAsInt() / 8);
    assertEquals(120, b().time(Duration.ofHours(8)).build().retireBeforeSeconds());
    assertEquals("4G", b().memoryPerWorker("4g").build().memoryPerWorker().get());
  }

  @Test
  void badValuesAreRefusedAtOnceNamingThem() {
    assertEquals("SlurmCluster needs stagingDir(...): a directory every node sees at the same path",
        assertThrows(IllegalStateException.class, () -> SlurmCluster.builder().build()).getMessage());
    assertEquals("memoryPerWorker '2GB' is not in Slurm's syntax: a whole number with an optional unit K, M, G or T,"
        + " such as 2G or 512M", assertThrows(IllegalArgumentException.class, () -> b().memoryPerWorker("2GB")).getMessage());
    for (String m : List.of("", "1.5G", "-1", "G", "2 G")) {
      assertThrows(IllegalArgumentException.class, () -> b().memoryPerWorker(m), m);
    }
    assertThrows(IllegalArgumentException.class, () -> b().cpusPerWorker(0));
    assertThrows(IllegalArgumentException.class, () -> b().time(Duration.ZERO));
    assertThrows(IllegalArgumentException.class, () -> b().partition("a b"));
    assertThrows(IllegalArgumentException.class, () -> b().retireBefore(Duration.ofSeconds(65536)));
    assertThrows(IllegalArgumentException.class, () -> b().java(Path.of("bin/java")));
    assertThrows(IllegalArgumentException.class, () -> b().pendingGrace(Duration.ofSeconds(-1)));
    assertThrows(IllegalArgumentException.class, () -> b().exportEnv("A=B"));
    assertEquals("partition was already set",
        assertThrows(IllegalStateException.class, () -> b().partition("a").partition("b")).getMessage());
    assertEquals("retireBefore PT2M must be shorter than the walltime 2 min", assertThrows(IllegalStateException.class,
        () -> b().time(Duration.ofSeconds(61)).retireBefore(Duration.ofMinutes(2)).build()).getMessage());
  }

  @Test
  void sbatchArgsMayNotSetWhatTheClusterSets() {
    for (String a : List.of("--array=0-3", "--job-name=x", "--partition=p", "-p", "-pdebug", "-c", "-c4",
        "--cpus-per-task=2", "--mem=2G", "--mem-per-cpu=1G", "--time=5", "-t", "--signal=USR2@30", "--output=x", "-o",
        "-e", "--export=ALL", "--chdir=/", "-D", "--requeue", "--hold", "-H", "--wrap=true", "--parsable")) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> b().sbatchArgs(a), a);
      assertTrue(e.getMessage().contains("is set by SlurmCluster itself"), e.getMessage());
    }
    assertEquals("sbatch option --mem is set by SlurmCluster itself (use memoryPerWorker(...)); it cannot be given"
        + " in sbatchArgs", assertThrows(IllegalArgumentException.class, () -> b().sbatchArgs("--mem=1G")).getMessage());
    assertEquals(List.of("--account=bio", "--qos", "high", "-A", "x", "--constraint=avx2", "--exclusive"),
        b().sbatchArgs("--account=bio", "--qos", "high", "-A", "x", "--constraint=avx2", "--exclusive").build().sbatchArgs());
    assertThrows(IllegalArgumentException.class, () -> b().sbatchArgs("bio"));
    assertEquals("sbatch option --part abbreviates --partition, which SlurmCluster sets itself (use partition(...));"
        + " it cannot be given in sbatchArgs", assertThrows(IllegalArgumentException.class, () -> b().sbatchArgs("--part=x"))
        .getMessage());
    assertThrows(IllegalArgumentException.class, () -> b().sbatchArgs("--expo=ALL"));
    for (String a : List.of("--test-only", "--test", "--help", "--usage", "--version", "-h", "-V")) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> b().sbatchArgs(a), a);
      assertTrue(e.getMessage().contains("makes sbatch submit no job"), e.getMessage());
    }
    assertEquals(List.of("--verbose", "-v"), b().sbatchArgs("--verbose", "-v").build().sbatchArgs());
    assertEquals(List.of("--time-min=5", "--wait-all-nodes=1", "--cpus-per-gpu=2"),
        b().sbatchArgs("--time-min=5", "--wait-all-nodes=1", "--cpus-per-gpu=2").build().sbatchArgs());
  }

  @Test
  void theProviderIsFoundByNameAndChecksItsProperties() {
    Cluster c = ClusterRegistry.create("slurm", Map.of("stagingDir", "/shared/stage", "partition", "net",
        "cpusPerWorker", "2", "memoryPerWorker", "1G", "time", "90m", "sbatchArgs", " --account=bio  --qos=high ",
        "retireBefore", "PT30S", "classpathStaging", "always", "pendingGrace", "3s", "exportEnv", "A, B_1"));
    SlurmCluster s = (SlurmCluster) c;
    assertEquals("net", s.partition().get());
    assertEquals(2, s.cpusPerWorker());
    assertEquals(Duration.ofMinutes(90), s.time().get());
    assertEquals(List.of("--account=bio", "--qos=high"), s.sbatchArgs());
    assertEquals(Duration.ofSeconds(30), s.retireBefore());
    assertEquals(SlurmCluster.ClasspathStaging.ALWAYS, s.classpathStaging());
    assertEquals(Duration.ofSeconds(3), s.pendingGrace());
    assertEquals(List.of("A", "B_1"), s.exportEnv());
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> ClusterRegistry.create("slurm", Map.of("stagingDir", "/s", "cpus", "2")));
    assertTrue(e.getMessage().startsWith("unknown slurm cluster property cpus; known: classpathStaging, commands,"), e.getMessage());
    assertEquals("slurm cluster property cpusPerWorker='two': For input string: \"two\"", assertThrows(
        IllegalArgumentException.class, () -> ClusterRegistry.create("slurm", Map.of("stagingDir", "/s", "cpusPerWorker", "two")))
        .getMessage());
    assertTrue(assertThrows(IllegalArgumentException.class, () -> ClusterRegistry.create("slurm", Map.of("time", "1h")))
        .getMessage().contains("needs the property stagingDir"));
    assertThrows(IllegalArgumentException.class, () -> ClusterRegistry.create("slurm", Map.of("stagingDir", "/s", "time", "soon")));
    assertEquals(Duration.ofDays(2), SlurmClusterProvider.duration("2d"));
    assertEquals(Duration.ofSeconds(45), SlurmClusterProvider.duration("45s"));
  }
}
