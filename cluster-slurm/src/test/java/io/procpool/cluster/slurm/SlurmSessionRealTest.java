package io.procpool.cluster.slurm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.procpool.api.cluster.JobStatus;
import io.procpool.api.cluster.WorkerCommand;
import io.procpool.cluster.slurm.testing.SlurmTest;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The session against the real Slurm of this machine. The "worker" is a shell command in place of
 * java ({@code /bin/sh -c CODE}), so each test is cheap; every job is cancelled by the test.
 */
@SlurmTest
class SlurmSessionRealTest {
  static final Duration WAIT = Duration.ofSeconds(60);

  @TempDir Path tmp;
  private final String jobName = "procpool-test-slurm-" + UUID.randomUUID().toString().substring(0, 8);
  private SlurmSession session;

  @AfterEach
  void cancelEverything() throws IOException {
    if (session != null) {
      boolean confirmed = session.cancelAll(WAIT);
      session.close();
      assertTrue(confirmed, "Slurm confirmed that every job of " + jobName + " ended");
    }
    assertEquals("", activeJobs(), "no job of " + jobName + " left");
  }

  /** A session whose worker runs {@code code} in sh; the arguments after it are those a worker gets. */
  private SlurmSession open(SlurmCluster.Builder b, String code) throws IOException {
    return open(b, code, new SlurmCli(null));
  }

  private SlurmSession open(SlurmCluster.Builder b, String code, SlurmCli cli) throws IOException {
    Path staging = Files.createDirectories(tmp.resolve("staging"));
    WorkerCommand cmd = new WorkerCommand(jobName, Path.of("/bin/sh"), List.of("-c", code, "worker"), List.of(),
        "io.procpool.core.WorkerMain", List.of("--transport", "grpc"), "k".repeat(32).getBytes(StandardCharsets.US_ASCII),
        Map.of());
    session = SlurmSession.open(b.stagingDir(staging).build(), cmd, cli);
    return session;
  }

  private JobStatus await(String id, Predicate<JobStatus> p, String what) throws Exception {
    long deadline = System.nanoTime() + WAIT.toNanos();
    JobStatus last = null;
    while (System.nanoTime() < deadline) {
      try {
        last = session.poll().get(id);
      } catch (IOException e) {
        // the shared test cluster may be restarting: ask again
      }
      if (last != null && p.test(last)) {
        return last;
      }
      Thread.sleep(100); // condition-wait on Slurm, not a fixed delay
    }
    throw new AssertionError(id + " never became " + what + " within " + WAIT + "; last " + last + "; log: "
        + session.logTail(id, 20));
  }

  /** squeue's own list of this test's jobs not yet over. */
  private String activeJobs() throws IOException {
    Process p = new ProcessBuilder("squeue", "-h", "-r", "--name=" + jobName, "-t", "PD,R,CG,CF,S,ST", "-o", "%i %T")
        .redirectErrorStream(true).start();
    try {
      assertTrue(p.waitFor(30, java.util.concurrent.TimeUnit.SECONDS));
    } catch (InterruptedException e) {
      throw new IOException(e);
    }
    return new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
  }

  @Test
  void twoWorkersRunAreCancelledOneByOneThenAllAndEndCancelled() throws Exception {
    open(SlurmCluster.builder(), "echo \"started $PROCPOOL_LAUNCH_ID\"; exec sleep 120");
    List<String> ids = session.submit(2);
    assertEquals(2, ids.size());
    for (String id : ids) {
      JobStatus s = await(id, st -> st.phase() == JobStatus.Phase.RUNNING, "RUNNING");
      assertNotNull(s.node());
      assertEquals("Slurm job " + id + " (node " + s.node() + ")", session.describe(id));
    }
    String first = ids.get(0);
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (!session.logTail(first, 5).equals("started " + first) && System.nanoTime() < deadline) {
      Thread.sleep(50);
    }
    assertEquals("started " + first, session.logTail(first, 5), "the job's output, with its launch id");
    session.cancel(first);
    JobStatus ended = await(first, st -> st.phase() == JobStatus.Phase.ENDED, "ENDED");
    assertEquals("CANCELLED", ended.verdict());
    assertEquals(143, ended.exitCode(), "SIGTERM");
    assertEquals(JobStatus.Phase.RUNNING, session.poll().get(ids.get(1)).phase(), "the other one still runs");
    assertTrue(session.cancelAll(WAIT));
    assertEquals("", activeJobs());
    assertEquals("CANCELLED", session.poll().get(ids.get(1)).verdict());
    Path dir = session.directory();
    session.close();
    assertFalse(Files.exists(dir), "session directory deleted");
  }

  @Test
  void aWorkerThatExitsThreeFailsWithExitCodeThreeAndGetsNoneOfThePoolsEnvironment() throws Exception {
    // The last argument is the handover file: the job can read it; then print the environment.
    String canary = "PROCPOOL_TEST_CANARY=" + UUID.randomUUID();
    open(SlurmCluster.builder(), "for a; do f=$a; done; test -r \"$f\" || exit 4; env; exit 3",
        new SlurmCli(null, Map.of("PROCPOOL_TEST_CANARY", canary.substring(canary.indexOf('=') + 1))));
    String id = session.submit(1).get(0);
    JobStatus s = await(id, st -> st.phase() == JobStatus.Phase.ENDED, "ENDED");
    assertEquals(JobStatus.ended("FAILED", 3, s.node()), s, session.logTail(id, 50));
    assertNotNull(s.node());
    String env = Files.readString(session.directory().resolve(id + ".out"));
    assertTrue(env.contains("PROCPOOL_LAUNCH_ID=" + id + "\n"), env);
    // The pool had the canary in its environment; the job must not.
    assertFalse(env.contains(canary), "the pool's environment leaked into the job's:\n" + env);
    assertFalse(env.contains("SLURM_GET_USER_ENV"), "no slow login environment on the node:\n" + env);
  }

  @Test
  void aRequestNoNodeCanMeetIsPendingForAPermanentReason() throws Exception {
    open(SlurmCluster.builder().cpusPerWorker(64), "exit 0");
    List<String> ids = session.submit(2);
    for (String id : ids) {
      JobStatus s = await(id, JobStatus::permanent, "permanently pending");
      assertEquals(JobStatus.Phase.PENDING, s.phase());
      assertEquals("PartitionConfig", s.reason());
    }
    assertTrue(session.cancelAll(WAIT), "pending jobs are cancelled too");
    assertEquals("", activeJobs());
    assertEquals(JobStatus.ended("CANCELLED", null, null), session.poll().get(ids.get(0)));
  }

  @Test
  void aRealJavaRunsFromStagedCopiesOnTheNodesAndReadsTheRewrittenHandover() throws Exception {
    // The test classes (a directory: packed as a jar) and a certificate file on another file system
    // (rewritten in the handover): both copied into the cache, and what the JVM on the node uses.
    Path classes = Path.of(HandoverEchoMain.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    Path shm = Path.of("/dev/shm");
    Path cert = Files.createTempFile(Files.isWritable(shm) ? shm : tmp, "procpool-test-ca", ".pem");
    try {
      Files.writeString(cert, "CERT " + jobName);
      Path staging = Files.createDirectories(tmp.resolve("staging"));
      WorkerCommand cmd = new WorkerCommand(jobName, Path.of(System.getProperty("java.home"), "bin", "java"),
          List.of("-Xshare:auto", "-XX:TieredStopAtLevel=1"), List.of(classes), HandoverEchoMain.class.getName(), List.of(),
          "k".repeat(32).getBytes(StandardCharsets.US_ASCII), Map.of("grpc.tls.trustCerts", cert.toString()));
      session = SlurmSession.open(SlurmCluster.builder().stagingDir(staging)
          .classpathStaging(SlurmCluster.ClasspathStaging.ALWAYS).build(), cmd, new SlurmCli(null));
      String id = session.submit(1).get(0);
      JobStatus s = await(id, st -> st.phase() == JobStatus.Phase.ENDED, "ENDED");
      String out = Files.readString(session.directory().resolve(id + ".out"));
      assertEquals(JobStatus.ended("COMPLETED", 0, s.node()), s, out);
      Path stagedCert;
      try (java.util.stream.Stream<Path> all = Files.walk(staging.resolve("cache"))) {
        stagedCert = all.filter(p -> p.getFileName().toString().equals(cert.getFileName().toString())).findFirst().orElseThrow();
      }
      assertEquals("launch " + id + "\nkey bytes 32\nproperty grpc.tls.trustCerts=" + stagedCert + "\ncontent CERT "
          + jobName + "\n", out);
      assertTrue(Files.readString(session.directory().resolve("worker.sh")).contains("/cache/"), "classes staged");
    } finally {
      Files.deleteIfExists(cert);
    }
  }
}
