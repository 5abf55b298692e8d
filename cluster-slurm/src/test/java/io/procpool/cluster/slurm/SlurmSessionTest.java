package io.procpool.cluster.slurm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.procpool.api.cluster.ClusterSession;
import io.procpool.api.cluster.JobStatus;
import io.procpool.api.cluster.WorkerCommand;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The session against fake Slurm commands: what it asks Slurm, what it makes of the answers, what it stages. */
class SlurmSessionTest {
  static final byte[] KEY = "0123456789abcdef-secret-key-bytes".getBytes(StandardCharsets.US_ASCII);

  @TempDir Path tmp;

  private FakeSlurm fake() throws IOException {
    return new FakeSlurm(tmp.resolve("bin"));
  }

  private Path staging() throws IOException {
    return Files.createDirectories(tmp.resolve("staging"));
  }

  private static WorkerCommand command(List<Path> classpath, Map<String, String> props, String... args) {
    return new WorkerCommand("procpool-t1", Path.of("/opt/jdk/bin/java"), List.of("-Xmx64m", "-Dx=a b"), classpath,
        "io.procpool.core.WorkerMain", List.of(args), KEY, props);
  }

  private SlurmCluster.Builder cluster(FakeSlurm fake) throws IOException {
    return SlurmCluster.builder().stagingDir(staging()).commands(fake.bin);
  }

  private static String perms(Path p) throws IOException {
    return PosixFilePermissions.toString(Files.getPosixFilePermissions(p));
  }

  @Test
  void openCreatesAPrivateSessionDirectoryWithTheHandoverAndNoSecretElsewhere() throws Exception {
    FakeSlurm fake = fake();
    try (SlurmSession s = (SlurmSession) cluster(fake).build()
        .open(command(List.of(), Map.of("grpc.connectTimeoutMillis", "500"), "--transport", "grpc"))) {
      Path dir = s.directory();
      assertEquals(staging(), dir.getParent());
      assertTrue(dir.getFileName().toString().matches("procpool-t1-[0-9a-f]{12}"), dir.toString());
      assertEquals("rwx------", perms(dir));
      Path handover = dir.resolve("handover");
      assertEquals("rw-------", perms(handover));
      assertEquals(new String(command(List.of(), Map.of("grpc.connectTimeoutMillis", "500")).handover(), StandardCharsets.US_ASCII),
          Files.readString(handover));
      String keyText = Base64.getEncoder().encodeToString(KEY);
      String script = Files.readString(dir.resolve("worker.sh"));
      assertFalse(script.contains(keyText) || script.contains("secret-key"), script);
      List<String> ids = s.submit(2);
      assertEquals(ids.get(0).split("_")[0], Files.readString(dir.resolve("jobs")).strip(),
          "the array job id is recorded for the clean-up after a kill -9");
      String sbatch = String.join(" ", fake.lastCall("sbatch"));
      assertFalse(sbatch.contains(keyText) || sbatch.contains("secret-key"), sbatch);
      // open() checked that Slurm answers, once, by name.
      assertEquals(List.of("-h", "--name=procpool-t1", "-o", "%i"), fake.calls("squeue").get(0));
    }
  }

  @Test
  void openReapsTheSessionsOfPoolsWhoseJvmDiedOnThisHostAndOnlyThose() throws Exception {
    FakeSlurm fake = fake();
    Path staging = staging();
    Process gone = new ProcessBuilder("true").start();
    gone.waitFor();
    SlurmSession.Owner self = SlurmSession.Owner.current("procpool-self-1");
    Path dead = orphan(staging, "procpool-" + gone.pid() + "-1-aaaaaaaaaaaa",
        new SlurmSession.Owner(self.host(), gone.pid(), "2026-01-01T00:00:00Z", "procpool-" + gone.pid() + "-1"));
    Path alive = orphan(staging, "procpool-self-1-bbbbbbbbbbbb", self);
    Path elsewhere = orphan(staging, "procpool-77-1-cccccccccccc",
        new SlurmSession.Owner("another-host", gone.pid(), "x", "procpool-77-1"));
    Path reusedPid = orphan(staging, "procpool-" + self.pid() + "-9-dddddddddddd",
        new SlurmSession.Owner(self.host(), self.pid(), "1999-01-01T00:00:00Z", "procpool-" + self.pid() + "-9"));
    // Forged: an owner file naming another pool's job than its directory, or a writable one.
    Path forgedName = orphan(staging, "procpool-" + gone.pid() + "-2-eeeeeeeeeeee",
        new SlurmSession.Owner(self.host(), gone.pid(), "x", "procpool-12345-1"));
    Path writable = orphan(staging, "procpool-" + gone.pid() + "-3-ffffffffffff",
        new SlurmSession.Owner(self.host(), gone.pid(), "x", "procpool-" + gone.pid() + "-3"));
    Files.setPosixFilePermissions(writable, PosixFilePermissions.fromString("rwxrwxrwx"));
    try (SlurmSession s = (SlurmSession) cluster(fake).build().open(command(List.of(), Map.of()))) {
      assertTrue(Files.isRegularFile(s.directory().resolve("owner")));
      assertEquals("rw-------", perms(s.directory().resolve("owner")));
    }
    assertFalse(Files.exists(dead), "the dead pool's session (and its key) is gone");
    assertFalse(Files.exists(reusedPid), "a pid now used by another JVM is not the owner");
    assertTrue(Files.exists(alive.resolve("handover")), "a live pool's session is left alone");
    assertTrue(Files.exists(elsewhere.resolve("handover")), "another host's pool is not judged from here");
    assertTrue(Files.exists(forgedName.resolve("handover")), "an owner file that names another pool's job is ignored");
    assertTrue(Files.exists(writable.resolve("handover")), "a directory others may write is never trusted");
    List<List<String>> cancels = fake.calls("scancel");
    assertEquals(2, cancels.size(), cancels.toString());
    // Exactly the job ids each dead session recorded, never by name (a live pool may have reused the pid).
    assertTrue(cancels.contains(List.of("4242", "4243", "--user=" + System.getProperty("user.name"))), cancels.toString());
    assertTrue(cancels.contains(List.of("4242", "4243", "--user=" + System.getProperty("user.name"))), cancels.toString());
    assertTrue(cancels.stream().flatMap(List::stream).noneMatch(a -> a.startsWith("--name")), cancels.toString());
    try (Stream<Path> left = Files.list(staging)) {
      assertTrue(left.noneMatch(p -> p.getFileName().toString().contains(".reaping-")), "claimed directories are deleted");
    }
  }

  @Test
  void anOversizedOwnerFileIsSkippedNotReadWhole() throws Exception {
    FakeSlurm fake = fake();
    Path staging = staging();
    Path big = Files.createDirectory(staging.resolve("procpool-1-1-aaaaaaaaaaaa"));
    try (java.io.RandomAccessFile f = new java.io.RandomAccessFile(big.resolve("owner").toFile(), "rw")) {
      f.setLength(3L << 30); // sparse 3 GiB
    }
    try (SlurmSession s = (SlurmSession) cluster(fake).build().open(command(List.of(), Map.of()))) {
      assertTrue(Files.isDirectory(s.directory()));
    }
    assertTrue(Files.exists(big.resolve("owner")));
    assertTrue(fake.calls("scancel").isEmpty());
  }

  private static Path orphan(Path staging, String name, SlurmSession.Owner owner) throws IOException {
    Path d = Files.createDirectory(staging.resolve(name));
    Files.writeString(d.resolve("handover"), "key");
    Files.writeString(d.resolve("owner"), owner.text());
    Files.writeString(d.resolve("jobs"), "4242\n4243\n");
    return d;
  }

  @Test
  void submitIsOneSbatchArrayWithEveryOptionAndReturnsTheLaunchIds() throws Exception {
    FakeSlurm fake = fake();
    fake.answer("sbatch", "4242;cluster1\n", "", 0);
    SlurmCluster c = cluster(fake).partition("net").cpusPerWorker(2).memoryPerWorker("512m")
        .time(Duration.ofSeconds(61)).retireBefore(Duration.ofMillis(29_001)).sbatchArgs("--account=bio", "--qos", "high")
        .build();
    try (SlurmSession s = (SlurmSession) c.open(command(List.of(), Map.of()))) {
      assertEquals(List.of("4242_0", "4242_1", "4242_2"), s.submit(3));
      List<String> args = fake.lastCall("sbatch");
      Path dir = s.directory();
      List<String> expected = new ArrayList<>(List.of("--parsable", "--array=0-2", "--job-name=procpool-t1",
          "--partition=net", "--cpus-per-task=2", "--mem=512M", "--time=2", "--signal=B:USR1@30", "--no-requeue",
          "--output=" + dir + "/%A_%a.out", "--open-mode=append", "--chdir=" + dir));
      assertEquals(expected, args.subList(0, expected.size()));
      assertEquals("--export=ALL", args.get(expected.size()));
      assertEquals(List.of("--account=bio", "--qos", "high", dir.resolve("worker.sh").toString()),
          args.subList(expected.size() + 1, args.size()));
      assertEquals(1, fake.calls("sbatch").size());
      assertEquals("Slurm job 4242_1", s.describe("4242_1"));
      assertEquals(Duration.ofSeconds(10), s.pendingGrace());
    }
  }

  @Test
  void sbatchSeesOnlyTheVariablesJobsMayGet() throws Exception {
    FakeSlurm fake = fake();
    SlurmCli cli = new SlurmCli(fake.bin, Map.of("PROCPOOL_TEST_CANARY", "x", "MY_LIB", "y", "SBATCH_ACCOUNT", "bio",
        "SLURM_CONF", "/etc/slurm/slurm.conf"));
    try (SlurmSession s = SlurmSession.open(cluster(fake).exportEnv("MY_LIB").build(), command(List.of(), Map.of()), cli)) {
      s.submit(1);
      java.util.Set<String> env = fake.lastEnvironment("sbatch");
      assertTrue(env.containsAll(List.of("MY_LIB", "SBATCH_ACCOUNT", "SLURM_CONF")), env.toString());
      for (String name : env) {
        assertTrue(SlurmSession.EXPORTED_ENV.contains(name) || name.equals("MY_LIB") || name.startsWith("SLURM_")
            || name.startsWith("SBATCH_") || name.equals("PWD") || name.equals("SHLVL") || name.equals("_"), name);
      }
      // squeue and scancel see the whole environment (they start no job).
      assertTrue(fake.lastEnvironment("squeue").contains("PROCPOOL_TEST_CANARY"));
    }
  }

  @Test
  void theBatchScriptSetsTheLaunchIdAndExecsJavaWithEveryArgumentIntact() throws Exception {
    FakeSlurm fake = fake();
    // A "java" that prints its arguments and the launch id, one per NUL.
    Path java = tmp.resolve("java");
    Files.writeString(java, "#!/bin/sh\nprintf '%s\\0' \"PID=$$\" \"ID=$PROCPOOL_LAUNCH_ID\" \"$@\"\n");
    Files.setPosixFilePermissions(java, PosixFilePermissions.fromString("rwx------"));
    List<String> nasty = List.of("it's", "a \"b\" $HOME `id` \\n", "two\nlines", "", "*", "--x=$(echo no)");
    WorkerCommand cmd = new WorkerCommand("procpool-t1", Path.of("/not/used"), List.of("-Da=it's here"),
        List.of(tmp.resolve("no such.jar")), "Main", nasty, KEY, Map.of());
    try (SlurmSession s = (SlurmSession) cluster(fake).java(java).build().open(cmd)) {
      ProcessBuilder pb = new ProcessBuilder("/bin/sh", s.directory().resolve("worker.sh").toString());
      pb.environment().put("SLURM_ARRAY_JOB_ID", "77");
      pb.environment().put("SLURM_ARRAY_TASK_ID", "5");
      Process p = pb.start();
      assertTrue(p.waitFor(20, TimeUnit.SECONDS));
      assertEquals(0, p.exitValue());
      List<String> got = new ArrayList<>(List.of(new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).split("\0", -1)));
      got.remove(got.size() - 1);
      // exec: the shell became java (same pid as the script's shell).
      assertEquals("PID=" + p.pid(), got.get(0));
      assertEquals("ID=77_5", got.get(1));
      List<String> expected = new ArrayList<>(List.of("-Da=it's here", "-cp", tmp.resolve("no such.jar").toString(), "Main"));
      expected.addAll(nasty);
      expected.add("--handover-file");
      expected.add(s.directory().resolve("handover").toString());
      assertEquals(expected, got.subList(2, got.size()));
    }
  }

  @Test
  void aPercentInTheStagingPathIsEscapedInTheOutputPattern() throws Exception {
    FakeSlurm fake = fake();
    Path staging = Files.createDirectories(tmp.resolve("100%"));
    try (SlurmSession s = (SlurmSession) SlurmCluster.builder().stagingDir(staging).commands(fake.bin).build()
        .open(command(List.of(), Map.of()))) {
      s.submit(1);
      assertTrue(fake.lastCall("sbatch").contains("--output=" + tmp + "/100%%/" + s.directory().getFileName() + "/%A_%a.out"),
          fake.lastCall("sbatch").toString());
    }
  }

  @Test
  void anSbatchRefusalIsAnIOExceptionWithSlurmsWords() throws Exception {
    FakeSlurm fake = fake();
    fake.answer("sbatch", "", "sbatch: error: Batch job submission failed: Invalid partition name specified\n", 1);
    try (ClusterSession s = cluster(fake).build().open(command(List.of(), Map.of()))) {
      IOException e = assertThrows(IOException.class, () -> s.submit(2));
      assertEquals("sbatch refused 2 workers of procpool-t1 (exit 1): sbatch: error: Batch job submission failed:"
          + " Invalid partition name specified", e.getMessage());
      fake.answer("sbatch", "garbage\n", "", 0);
      assertTrue(assertThrows(IOException.class, () -> s.submit(1)).getMessage().contains("(exit 0): garbage"));
    }
  }

  @Test
  void openFailsClearlyWhenSlurmDoesNotAnswerOrTheStagingDirIsMissing() throws Exception {
    FakeSlurm fake = fake();
    fake.answer("squeue", "", "squeue: error: Munge encode failed\n", 1);
    IOException e = assertThrows(IOException.class, () -> cluster(fake).build().open(command(List.of(), Map.of())));
    assertEquals("Slurm does not answer: squeue exited with 1: squeue: error: Munge encode failed", e.getMessage());
    try (Stream<Path> left = Files.list(staging())) {
      assertEquals(0, left.count(), "nothing staged");
    }
    e = assertThrows(IOException.class, () -> SlurmCluster.builder().stagingDir(tmp.resolve("missing"))
        .commands(fake.bin).build().open(command(List.of(), Map.of())));
    assertTrue(e.getMessage().startsWith("the Slurm staging directory " + tmp.resolve("missing") + " does not exist"), e.getMessage());
    e = assertThrows(IOException.class, () -> SlurmCluster.builder().stagingDir(staging())
        .commands(tmp.resolve("nobin")).build().open(command(List.of(), Map.of())));
    assertTrue(e.getMessage().startsWith("cannot run Slurm's squeue (" + tmp.resolve("nobin/squeue") + ")"), e.getMessage());
  }

  @Test
  void aStagingDirectoryOthersMayWriteToNeedsTheStickyBit() throws Exception {
    FakeSlurm fake = fake();
    Path staging = staging();
    Files.setPosixFilePermissions(staging, PosixFilePermissions.fromString("rwxrwxrwx"));
    IOException e = assertThrows(IOException.class, () -> cluster(fake).build().open(command(List.of(), Map.of())));
    assertEquals("the Slurm staging directory " + staging + " may be written by others (mode 0777) and lacks the"
        + " sticky bit: they could replace this pool's files; use a directory of your own (or one with mode 1777,"
        + " like /tmp)", e.getMessage());
    Process chmod = new ProcessBuilder("chmod", "1777", staging.toString()).start();
    assertTrue(chmod.waitFor(10, TimeUnit.SECONDS) && chmod.exitValue() == 0);
    cluster(fake).build().open(command(List.of(), Map.of())).close();
  }

  @Test
  void pollTurnsSqueueLinesIntoStatusesOfTheSessionsJobsOnly() throws Exception {
    FakeSlurm fake = fake();
    try (ClusterSession s = cluster(fake).build().open(command(List.of(), Map.of()))) {
      assertEquals(Map.of(), s.poll());
      s.submit(6);
      fake.answer("squeue", String.join("\n",
          "4242_0|PENDING||0|Resources",
          "4242_1|PENDING||0|PartitionConfig",
          "4242_2|RUNNING|n1|0|None",
          "4242_3|FAILED|n2|768|NonZeroExitCode",
          "4242_4|CANCELLED|n1|15|None",
          "999_0|RUNNING|n1|0|None",
          "") + "\n", "", 0);
      Map<String, JobStatus> st = s.poll();
      assertEquals(List.of("-h", "-a", "-r", "-t", "all", "--name=procpool-t1", "-O", SlurmStates.SQUEUE_FORMAT),
          fake.lastCall("squeue"));
      assertEquals(6, st.size(), st.toString());
      assertEquals(JobStatus.pending("Resources", false), st.get("4242_0"));
      assertEquals(JobStatus.pending("PartitionConfig", true), st.get("4242_1"));
      assertEquals(JobStatus.running("n1"), st.get("4242_2"));
      assertEquals(JobStatus.ended("FAILED", 3, "n2"), st.get("4242_3"));
      assertEquals(JobStatus.ended("CANCELLED", 143, "n1"), st.get("4242_4"));
      // Not listed (yet or any more): ended, verdict unknown.
      assertEquals(JobStatus.ended(null, null, null), st.get("4242_5"));
      assertEquals("Slurm job 4242_2 (node n1)", s.describe("4242_2"));
      fake.answer("squeue", "", "slurm_load_jobs error: Socket timed out\n", 1);
      assertEquals("squeue failed (exit 1): slurm_load_jobs error: Socket timed out",
          assertThrows(IOException.class, s::poll).getMessage());
      // Slurm forgets ended jobs: those reported ended are left out; a running job that vanished is
      // ended, node kept, then left out too.
      fake.answer("squeue", "", "", 0);
      st = s.poll();
      assertEquals(Map.of("4242_0", JobStatus.ended(null, null, null), "4242_1", JobStatus.ended(null, null, null),
          "4242_2", JobStatus.ended(null, null, "n1")), st);
      assertEquals(Map.of(), s.poll());
      int scancels = fake.calls("scancel").size();
      assertTrue(s.cancelAll(Duration.ofSeconds(1)), "nothing left to cancel");
      assertEquals(scancels, fake.calls("scancel").size());
    }
  }

  @Test
  void cancelAndCancelAllCallScancelAndWaitForSlurm() throws Exception {
    FakeSlurm fake = fake();
    try (ClusterSession s = cluster(fake).build().open(command(List.of(), Map.of()))) {
      assertTrue(s.cancelAll(Duration.ofSeconds(1)), "nothing submitted: nothing to cancel");
      assertEquals(0, fake.calls("scancel").size());
      s.submit(2);
      fake.answer("sbatch", "4243\n", "", 0);
      s.submit(1);
      s.cancel("4242_1");
      assertEquals(List.of("4242_1"), fake.lastCall("scancel"));
      fake.answer("scancel", "", "scancel: error: Kill job error on job id 4242_1: Job/step already completing or completed\n", 1);
      s.cancel("4242_1"); // already over: fine
      fake.answer("scancel", "", "scancel: error: Unable to contact slurm controller\n", 1);
      assertTrue(assertThrows(IOException.class, () -> s.cancel("4242_0")).getMessage()
          .endsWith("(exit 1): scancel: error: Unable to contact slurm controller"));
      assertThrows(IllegalArgumentException.class, () -> s.cancel("1_0"));
      fake.answer("scancel", "", "", 0);
      // Still running: not confirmed within the timeout.
      fake.answer("squeue", "4242_0|CANCELLED|n1|15|None\n4242_1|COMPLETING|n1|15|None\n4243_0|CANCELLED||0|None\n", "", 0);
      assertFalse(s.cancelAll(Duration.ofMillis(200)));
      assertEquals(List.of("4242", "4243"), fake.lastCall("scancel"));
      fake.answer("squeue", "4242_0|CANCELLED|n1|15|None\n4242_1|CANCELLED|n1|15|None\n4243_0|CANCELLED||0|None\n", "", 0);
      assertTrue(s.cancelAll(Duration.ofSeconds(10)));
    }
  }

  @Test
  void cancelAllKeepsToItsTimeoutWhenSlurmHangs() throws Exception {
    FakeSlurm fake = fake();
    try (ClusterSession s = cluster(fake).build().open(command(List.of(), Map.of()))) {
      s.submit(1);
      fake.hang("scancel");
      long t0 = System.nanoTime();
      IOException e = assertThrows(IOException.class, () -> s.cancelAll(Duration.ofMillis(1500)));
      long ms = (System.nanoTime() - t0) / 1_000_000;
      assertTrue(e.getMessage().startsWith("Slurm's scancel did not answer within 1500 ms"), e.getMessage());
      assertTrue(ms < 10_000, ms + " ms");
    }
  }

  @Test
  void logTailIsTheEndOfTheJobsOutputFile() throws Exception {
    FakeSlurm fake = fake();
    try (SlurmSession s = (SlurmSession) cluster(fake).build().open(command(List.of(), Map.of()))) {
      assertEquals("", s.logTail("4242_0", 5));
      StringBuilder b = new StringBuilder();
      for (int i = 1; i <= 10; i++) {
        b.append("line ").append(i).append('\n');
      }
      Files.writeString(s.directory().resolve("4242_0.out"), b);
      assertEquals("line 8\nline 9\nline 10", s.logTail("4242_0", 3));
      assertEquals(b.toString().strip(), s.logTail("4242_0", 100));
      assertEquals("", s.logTail("../handover", 3));
      // A long log: only the end is read, never a cut first line.
      Files.writeString(s.directory().resolve("4242_1.out"), "x".repeat(100_000) + "\nlast\n");
      assertEquals("last", s.logTail("4242_1", 50));
    }
  }

  @Test
  void closeDeletesTheSessionDirectoryButNotTheCache() throws Exception {
    FakeSlurm fake = fake();
    Path jar = Files.writeString(tmp.resolve("app.jar"), "not really a jar");
    SlurmSession s = (SlurmSession) cluster(fake).classpathStaging(SlurmCluster.ClasspathStaging.ALWAYS).build()
        .open(command(List.of(jar), Map.of()));
    Path dir = s.directory();
    assertTrue(Files.exists(dir.resolve("handover")));
    s.close();
    assertFalse(Files.exists(dir));
    assertTrue(Files.isDirectory(staging().resolve("cache")));
    s.close(); // twice: nothing
    assertThrows(IllegalStateException.class, () -> s.submit(1));
  }

  @Test
  void stagingCopiesOnceContentAddressedAndRewritesFileProperties() throws Exception {
    FakeSlurm fake = fake();
    Path jar = Files.writeString(tmp.resolve("app.jar"), "jar bytes");
    Path classes = Files.createDirectories(tmp.resolve("classes/p"));
    Files.writeString(classes.resolve("A.class"), "class A");
    Path cert = Files.writeString(tmp.resolve("ca.pem"), "-----BEGIN CERTIFICATE-----");
    Map<String, String> props = Map.of("grpc.tls.trustCerts", cert.toString(), "grpc.connectTimeoutMillis", "500",
        "other", "/no/such/file");
    SlurmCluster c = cluster(fake).classpathStaging(SlurmCluster.ClasspathStaging.ALWAYS).build();
    String script1;
    String handover1;
    try (SlurmSession s = (SlurmSession) c.open(command(List.of(jar, tmp.resolve("classes"), tmp.resolve("gone.jar")), props))) {
      script1 = Files.readString(s.directory().resolve("worker.sh"));
      handover1 = Files.readString(s.directory().resolve("handover"));
    }
    Path cache = staging().resolve("cache");
    assertEquals("rwx------", perms(cache));
    String jarSha = sha256("jar bytes");
    Path stagedJar = cache.resolve(jarSha).resolve("app.jar");
    assertEquals("jar bytes", Files.readString(stagedJar));
    Path stagedCert = cache.resolve(sha256("-----BEGIN CERTIFICATE-----")).resolve("ca.pem");
    assertTrue(Files.isRegularFile(stagedCert));
    List<Path> classesJars;
    try (Stream<Path> all = Files.walk(cache)) {
      classesJars = all.filter(p -> p.getFileName().toString().equals("classes.jar")).toList();
    }
    assertEquals(1, classesJars.size());
    try (java.util.zip.ZipFile z = new java.util.zip.ZipFile(classesJars.get(0).toFile())) {
      assertEquals("class A", new String(z.getInputStream(z.getEntry("p/A.class")).readAllBytes(), StandardCharsets.UTF_8));
    }
    assertTrue(script1.contains("'-cp' '" + stagedJar + ":" + classesJars.get(0) + ":" + tmp.resolve("gone.jar") + "'"), script1);
    // The handover names the staged certificate; other values are untouched.
    String expected = new String(new WorkerCommand("x", Path.of("j"), List.of(), List.of(), "M", List.of(), KEY,
        Map.of("grpc.tls.trustCerts", stagedCert.toString(), "grpc.connectTimeoutMillis", "500", "other", "/no/such/file"))
        .handover(), StandardCharsets.US_ASCII);
    assertEquals(decode(expected), decode(handover1));
    // A second pool reuses the copies (same paths, files not rewritten); the directory packs to the same bytes.
    long jarTime = Files.getLastModifiedTime(stagedJar).toMillis();
    Files.setLastModifiedTime(stagedJar, java.nio.file.attribute.FileTime.fromMillis(jarTime - 100_000));
    try (SlurmSession s = (SlurmSession) c.open(command(List.of(jar, tmp.resolve("classes"), tmp.resolve("gone.jar")), props))) {
      assertEquals(script1.replaceAll("procpool-t1-[0-9a-f]{12}", "D"),
          Files.readString(s.directory().resolve("worker.sh")).replaceAll("procpool-t1-[0-9a-f]{12}", "D"));
    }
    assertEquals(jarTime - 100_000, Files.getLastModifiedTime(stagedJar).toMillis(), "not copied again");
    try (Stream<Path> all = Files.list(cache)) {
      assertEquals(3, all.count(), "jar, classes, cert; no temporary file left");
    }
    // The jar changes (same path, new content and time): a new copy under its new hash.
    Files.writeString(jar, "jar bytes, version 2");
    Files.setLastModifiedTime(jar, java.nio.file.attribute.FileTime.fromMillis(jarTime + 5_000));
    try (SlurmSession s = (SlurmSession) c.open(command(List.of(jar), Map.of()))) {
      Path v2 = cache.resolve(sha256("jar bytes, version 2")).resolve("app.jar");
      assertTrue(Files.readString(s.directory().resolve("worker.sh")).contains("'-cp' '" + v2 + "'"));
      assertEquals("jar bytes, version 2", Files.readString(v2));
    }
  }

  @Test
  void aSecretFileIsCopiedIntoTheSessionDirectoryNeverIntoTheSharedCache() throws Exception {
    FakeSlurm fake = fake();
    Path key = Files.writeString(tmp.resolve("client.key"), "PRIVATE");
    Path cert = Files.writeString(tmp.resolve("client.pem"), "PUBLIC");
    SlurmCluster c = cluster(fake).classpathStaging(SlurmCluster.ClasspathStaging.ALWAYS).build();
    Path copy;
    try (SlurmSession s = (SlurmSession) c.open(command(List.of(), Map.of("grpc.tls.clientPrivateKey", key.toString(),
        "grpc.tls.clientCertChain", cert.toString())))) {
      copy = s.directory().resolve("files/grpc.tls.clientPrivateKey-client.key");
      assertEquals("PRIVATE", Files.readString(copy));
      assertEquals("rw-------", perms(copy));
      assertEquals("rwx------", perms(copy.getParent()));
      String handover = Files.readString(s.directory().resolve("handover"));
      assertTrue(handover.contains(Base64.getEncoder().encodeToString(copy.toString().getBytes(StandardCharsets.UTF_8))));
      try (Stream<Path> all = Files.walk(staging().resolve("cache"))) {
        List<String> names = all.map(p -> p.getFileName().toString()).toList();
        assertTrue(names.contains("client.pem") && !names.contains("client.key"), names.toString());
      }
    }
    assertFalse(Files.exists(copy), "deleted with the session");
    assertTrue(Staging.secret("grpc.tls.privateKey") && Staging.secret("db.password") && !Staging.secret("grpc.tls.trustCerts"));
  }

  @Test
  void autoStagingUsesFilesOnTheStagingFileSystemInPlaceAndCopiesOthers() throws Exception {
    FakeSlurm fake = fake();
    Path jar = Files.writeString(tmp.resolve("app.jar"), "jar bytes");
    Path shm = Path.of("/dev/shm");
    org.junit.jupiter.api.Assumptions.assumeTrue(Files.isWritable(shm)
        && !Files.getFileStore(shm).equals(Files.getFileStore(tmp)), "needs /dev/shm on another file system");
    Path other = Files.createTempFile(shm, "procpool-slurm-test", ".jar");
    try {
      Files.writeString(other, "other bytes");
      try (SlurmSession s = (SlurmSession) cluster(fake).build().open(command(List.of(jar, other), Map.of()))) {
        String script = Files.readString(s.directory().resolve("worker.sh"));
        Path staged = staging().resolve("cache").resolve(sha256("other bytes")).resolve(other.getFileName().toString());
        assertTrue(script.contains("'-cp' '" + jar + ":" + staged + "'"), script);
      }
    } finally {
      Files.deleteIfExists(other);
    }
    // NEVER: nothing copied.
    try (SlurmSession s = (SlurmSession) SlurmCluster.builder().stagingDir(staging()).commands(fake.bin)
        .classpathStaging(SlurmCluster.ClasspathStaging.NEVER).build().open(command(List.of(Path.of("/dev/shm/x.jar")), Map.of()))) {
      assertTrue(Files.readString(s.directory().resolve("worker.sh")).contains("'-cp' '/dev/shm/x.jar'"));
    }
  }

  @Test
  void aCacheOthersCanWriteToIsRefused() throws Exception {
    FakeSlurm fake = fake();
    Path cache = Files.createDirectories(staging().resolve("cache"));
    Files.setPosixFilePermissions(cache, PosixFilePermissions.fromString("rwxrwxrwx"));
    Path jar = Files.writeString(tmp.resolve("app.jar"), "jar bytes");
    IOException e = assertThrows(IOException.class, () -> cluster(fake).classpathStaging(SlurmCluster.ClasspathStaging.ALWAYS)
        .build().open(command(List.of(jar), Map.of())));
    assertEquals("the staging cache " + cache + " is writable by others (rwxrwxrwx): its files would run in your"
        + " workers; make it 0700", e.getMessage());
    try (Stream<Path> left = Files.list(staging())) {
      assertEquals(List.of(cache), left.toList(), "the session directory was removed");
    }
  }

  private static String sha256(String s) throws Exception {
    return java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256")
        .digest(s.getBytes(StandardCharsets.UTF_8)));
  }

  /** The handover's lines, key first, properties sorted (their order is a map's). */
  private static List<String> decode(String handover) {
    List<String> lines = new ArrayList<>(List.of(handover.split("\n")));
    List<String> props = new ArrayList<>(lines.subList(1, lines.size()));
    props.removeIf(String::isEmpty);
    props.sort(null);
    List<String> out = new ArrayList<>();
    out.add(lines.get(0));
    out.addAll(props);
    return out;
  }
}
