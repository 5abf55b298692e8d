package io.procpool.cluster.slurm;

import static io.procpool.cluster.slurm.SlurmE2E.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.procpool.cluster.slurm.testing.SlurmTest;
import io.procpool.cluster.slurm.testing.SlurmTestCluster;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Point 9: a pool built by a non-root user ({@value SlurmTestCluster#NON_ROOT_USER}, CI's) submits its
 * Slurm workers as that user; its session directory is 0700 and its handover file (the key) 0600, both
 * its own, and another user cannot read the key. The pool runs in {@link NonRootPoolMain}, started with
 * {@code runuser} from a copy of this JVM's classpath.
 */
@SlurmTest
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class SlurmNonRootTest {
  private Path dir;
  private String childJobPrefix;

  @AfterEach
  void cleanUp() {
    List<String> left = new ArrayList<>();
    if (childJobPrefix != null) {
      SlurmTestCluster.nonRootJobs(childJobPrefix).forEach(j -> left.add(j.id()));
      if (!left.isEmpty()) {
        List<String> cmd = new ArrayList<>(List.of("scancel"));
        cmd.addAll(left);
        SlurmE2E.slurm(cmd.toArray(String[]::new));
      }
    }
    if (dir != null) {
      SlurmTestCluster.deleteTree(dir);
    }
    assertEquals(List.of(), left, "the non-root pool left jobs (cancelled now)");
  }

  @Test
  void aNonRootUsersPoolKeepsItsKeyPrivateAndLeavesNoJob() throws Exception {
    dir = SlurmTestCluster.nonRootStagingDirectory("nonroot");
    List<Path> classpath = SlurmTestCluster.copyClasspath(SlurmTestCluster.classpathOfThisJvm(), dir);
    Path staging = Files.createDirectories(dir.resolve("staging"));
    Path control = Files.createDirectories(dir.resolve("control"));
    for (Path p : List.of(staging, control)) {
      Files.setOwner(p, Files.getOwner(dir));
    }
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    String cp = classpath.stream().map(Path::toString).collect(Collectors.joining(File.pathSeparator));
    CompletableFuture<SlurmTestCluster.CommandResult> run = CompletableFuture.supplyAsync(() ->
        SlurmTestCluster.runAsNonRoot(List.of(java, "-cp", cp, NonRootPoolMain.class.getName(), staging.toString(),
            control.toString()), Duration.ofSeconds(150)));
    try {
      Path ready = control.resolve("ready");
      await("the non-root pool is up and checked (or its JVM ended)", Duration.ofSeconds(120),
          () -> Files.exists(ready) || run.isDone());
      if (Files.exists(ready)) {
        Path handover = Path.of(Files.readString(ready));
        SlurmTestCluster.CommandResult other = SlurmTestCluster.run(
            List.of("runuser", "-u", "nobody", "--", "cat", handover.toString()), Duration.ofSeconds(20));
        assertNotEquals(0, other.exitCode(), "another user read the key: " + other.output());
        assertTrue(other.output().contains("Permission denied"), other.output());
        assertEquals(SlurmTestCluster.NON_ROOT_USER, Files.getOwner(handover).getName());
        List<SlurmTestCluster.Job> jobs = SlurmTestCluster.nonRootJobs("procpool-");
        assertTrue(jobs.stream().filter(j -> j.state().equals("RUNNING")).count() >= 2, "its jobs run: " + jobs);
      }
    } finally {
      Files.writeString(control.resolve("go"), "");
    }
    SlurmTestCluster.CommandResult r = run.get(150, TimeUnit.SECONDS);
    Matcher pid = Pattern.compile("pid ([0-9]+) user (\\S+)").matcher(r.output());
    if (pid.find()) {
      childJobPrefix = SlurmTestCluster.poolJobPrefix(Long.parseLong(pid.group(1)));
      assertEquals(SlurmTestCluster.NON_ROOT_USER, pid.group(2), r.output());
    }
    System.out.println("[slurm e2e] the non-root pool's main said:\n" + r.output().strip());
    assertEquals(0, r.exitCode(), "the non-root pool's main: " + r.output());
    assertTrue(r.output().contains("ALL CHECKS PASSED"), r.output());
    assertEquals(List.of(), SlurmTestCluster.nonRootJobs(childJobPrefix), "close() left jobs");
  }
}
