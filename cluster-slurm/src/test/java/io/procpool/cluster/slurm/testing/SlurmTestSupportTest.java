package io.procpool.cluster.slurm.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.procpool.cluster.slurm.testing.SlurmTestCluster.CommandResult;
import io.procpool.cluster.slurm.testing.SlurmTestCluster.Job;
import io.procpool.cluster.slurm.testing.SlurmTestCluster.Probe;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ConditionEvaluationResult;

/** The Slurm test support itself, without Slurm (cheap; runs in every build). */
class SlurmTestSupportTest {

  private static final Probe UP = new Probe(true, "nodes [vm(local)]");
  private static final Probe DOWN = new Probe(false, "'sinfo' exited with 1: Unable to contact slurm controller");

  @Test
  void unsetModeRunsWhenSlurmAnswersAndSkipsWithTheReasonWhenNot() {
    assertFalse(SlurmCondition.evaluate(null, UP).isDisabled());
    assertFalse(SlurmCondition.evaluate("", UP).isDisabled());
    ConditionEvaluationResult skipped = SlurmCondition.evaluate(null, DOWN);
    assertTrue(skipped.isDisabled());
    String reason = skipped.getReason().orElseThrow();
    assertTrue(reason.contains("Unable to contact slurm controller"), reason);
    assertTrue(reason.contains("up.sh"), reason);
  }

  @Test
  void requiredModeFailsNamingTheVariableAndTheScriptWhenSlurmIsNotUsable() {
    assertFalse(SlurmCondition.evaluate("required", UP).isDisabled());
    IllegalStateException e =
        assertThrows(IllegalStateException.class, () -> SlurmCondition.evaluate("required", DOWN));
    assertTrue(e.getMessage().contains("PROCPOOL_SLURM_TESTS=required"), e.getMessage());
    assertTrue(e.getMessage().contains("cluster-slurm/src/test/slurm/up.sh"), e.getMessage());
    assertTrue(e.getMessage().contains("Unable to contact slurm controller"), e.getMessage());
  }

  @Test
  void offModeSkipsAndAnUnknownValueFails() {
    assertTrue(SlurmCondition.evaluate("off", UP).isDisabled());
    IllegalStateException e =
        assertThrows(IllegalStateException.class, () -> SlurmCondition.evaluate("yes", UP));
    assertTrue(e.getMessage().contains("'yes'"), e.getMessage());
  }

  @Test
  void probeNeedsAnAnsweringNodeInBothPartitions() {
    assertTrue(SlurmTestCluster.parseSinfo("vm|local*|idle\nn1|net|mixed\nn2|net|down*\n").usable());
    Probe netDown = SlurmTestCluster.parseSinfo("vm|local*|idle\nn1|net|idle*\nn2|net|down*\n");
    assertFalse(netDown.usable());
    assertTrue(netDown.detail().contains("'net'") && netDown.detail().contains("n2(net):down*"), netDown.detail());
    Probe otherCluster = SlurmTestCluster.parseSinfo("vm|debug*|idle\n");
    assertFalse(otherCluster.usable());
    assertFalse(SlurmTestCluster.parseSinfo("").usable());
  }

  @Test
  void probeReportsAMissingSinfo() {
    Probe p = SlurmTestCluster.probe("/nonexistent/procpool/sinfo");
    assertFalse(p.usable());
    assertTrue(p.detail().contains("/nonexistent/procpool/sinfo"), p.detail());
  }

  @Test
  void squeueLinesAreFilteredByPrefix() {
    String out = "12_0|procpool-test-a-1|RUNNING|None|n1|root\n"
        + "13|procpool-test-b-1|PENDING|Resources||procpool-ci\n"
        + "14|someone-else|RUNNING|None|vm|root\n";
    assertEquals(List.of(new Job("12_0", "procpool-test-a-1", "RUNNING", "None", "n1", "root")),
        SlurmTestCluster.parseSqueue(out, "procpool-test-a-"));
    assertEquals("", SlurmTestCluster.parseSqueue(out, "procpool-test-b-").get(0).nodes());
  }

  @Test
  void onlyTestJobPrefixesAreAccepted() {
    for (String bad : new String[] {"", "procpool-test-", "someone-else", null}) {
      assertThrows(IllegalArgumentException.class, () -> SlurmTestCluster.cancelJobs(bad), String.valueOf(bad));
    }
    String p = SlurmTestCluster.uniqueJobPrefix("My Test#1");
    assertTrue(p.startsWith("procpool-test-My_Test_1-") && p.endsWith("-"), p);
    assertFalse(p.equals(SlurmTestCluster.uniqueJobPrefix("My Test#1")));
  }

  @Test
  void poolPrefixesOfThisJvmAndItsChildrenAreAcceptedOthersNot() throws Exception {
    long self = ProcessHandle.current().pid();
    assertEquals("procpool-" + self + "-", SlurmTestCluster.poolJobPrefix());
    assertTrue(SlurmTestCluster.isPoolPrefixOfThisJvm(SlurmTestCluster.poolJobPrefix()));
    assertFalse(SlurmTestCluster.isPoolPrefixOfThisJvm("procpool-" + self + "-1"), "the whole pool prefix only");
    assertFalse(SlurmTestCluster.isPoolPrefixOfThisJvm("procpool-"));
    assertFalse(SlurmTestCluster.isPoolPrefixOfThisJvm("procpool-1-"), "init is not this JVM's child");
    assertThrows(IllegalArgumentException.class, () -> SlurmTestCluster.cancelJobs("procpool-1-"));
    Process child = new ProcessBuilder("sleep", "30").start();
    try {
      assertTrue(SlurmTestCluster.isPoolPrefixOfThisJvm(SlurmTestCluster.poolJobPrefix(child.pid())));
    } finally {
      child.destroyForcibly().waitFor();
    }
    assertFalse(SlurmTestCluster.isPoolPrefixOfThisJvm(SlurmTestCluster.poolJobPrefix(child.pid())), "ended");
  }

  @Test
  void aCommandThatOverrunsItsTimeoutIsKilledWithItsChildren() {
    long t0 = System.nanoTime();
    IllegalStateException e = assertThrows(IllegalStateException.class,
        () -> SlurmTestCluster.run(List.of("sh", "-c", "sleep 30 & echo child=$!; wait"), Duration.ofMillis(500)));
    assertTrue(e.getMessage().contains("did not end within"), e.getMessage());
    java.util.regex.Matcher m = java.util.regex.Pattern.compile("child=(\\d+)").matcher(e.getMessage());
    assertTrue(m.find(), e.getMessage());
    assertFalse(ProcessHandle.of(Long.parseLong(m.group(1))).map(ProcessHandle::isAlive).orElse(false),
        "the command's child survived");
    assertTrue(System.nanoTime() - t0 < 10_000_000_000L);
    CommandResult ok = SlurmTestCluster.run(List.of("sh", "-c", "echo out; echo err >&2; exit 3"), Duration.ofSeconds(5));
    assertEquals(3, ok.exitCode());
    assertEquals("out\nerr\n", ok.output());
  }

  @Test
  void stagingDirectoriesArePrivateAndClasspathCopiesAreComplete() throws Exception {
    Path staging = SlurmTestCluster.stagingDirectory("self test");
    Path source = SlurmTestCluster.stagingDirectory("self-test-source");
    try {
      assertEquals("rwx------", java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(staging)));
      Files.createDirectories(source.resolve("classes/a"));
      Files.writeString(source.resolve("classes/a/X.class"), "x");
      Files.writeString(source.resolve("lib.jar"), "jar");
      List<Path> copies = SlurmTestCluster.copyClasspath(
          List.of(source.resolve("classes"), source.resolve("missing.jar"), source.resolve("lib.jar")), staging);
      assertEquals(2, copies.size());
      assertEquals("x", Files.readString(copies.get(0).resolve("a/X.class")));
      assertEquals("jar", Files.readString(copies.get(1)));
      assertTrue(copies.get(1).startsWith(staging));
    } finally {
      SlurmTestCluster.deleteTree(staging);
      SlurmTestCluster.deleteTree(source);
    }
    assertFalse(Files.exists(staging));
  }
}
