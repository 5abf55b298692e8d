package io.procpool.cluster.slurm;

import io.procpool.api.ProcessPool;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import java.util.stream.Stream;

/**
 * What {@link SlurmNonRootTest} runs as the non-root user: builds a pool of 2 Slurm workers (partition
 * local) with its own staging directory, runs a map on both, checks the session directory (0700) and the
 * handover file (0600) are its own, writes the handover file's path to {@code <control>/ready}, waits for
 * {@code <control>/go} (while the test checks that another user cannot read it), closes the pool and
 * checks the session directory is gone. Prints what it checked; exits 0 when everything holds, 1 if not.
 *
 * <p>Arguments: the staging directory and the control directory.
 */
public final class NonRootPoolMain {
  private NonRootPoolMain() {}

  /** See the class comment. */
  public static void main(String[] args) throws Exception {
    Path staging = Path.of(args[0]);
    Path control = Path.of(args[1]);
    String me = System.getProperty("user.name");
    System.out.println("pid " + ProcessHandle.current().pid() + " user " + me);
    SlurmCluster slurm = SlurmCluster.builder().partition("local").stagingDir(staging).build();
    Path session;
    try (ProcessPool pool = ProcessPool.builder().transport("grpc").processes(0).cluster(slurm).clusterWorkers(2)
        .build()) {
      await("2 workers joined", () -> pool.workerPids().size() == 2);
      List<Long> pids = pool.map((Integer i) -> {
        Thread.sleep(300); // long enough that both workers get some
        return ProcessHandle.current().pid();
      }, IntStream.range(0, 8).boxed().collect(Collectors.toList()), 1);
      Set<Long> distinct = new HashSet<>(pids);
      check(distinct.equals(new HashSet<>(pool.workerPids())), "map used both workers " + distinct);
      try (Stream<Path> s = Files.list(staging)) {
        List<Path> sessions = s.filter(p -> p.getFileName().toString().startsWith("procpool-")).toList();
        check(sessions.size() == 1, "one session directory: " + sessions);
        session = sessions.get(0);
      }
      Path handover = session.resolve("handover");
      check(Files.isRegularFile(handover), "handover file " + handover + " exists");
      check("rwx------".equals(PosixFilePermissions.toString(Files.getPosixFilePermissions(session))),
          "session directory is 0700: " + PosixFilePermissions.toString(Files.getPosixFilePermissions(session)));
      check(me.equals(Files.getOwner(session).getName()), "session directory owned by " + me);
      check("rw-------".equals(PosixFilePermissions.toString(Files.getPosixFilePermissions(handover))),
          "handover file is 0600: " + PosixFilePermissions.toString(Files.getPosixFilePermissions(handover)));
      check(me.equals(Files.getOwner(handover).getName()), "handover file owned by " + me);
      Files.writeString(control.resolve("ready.tmp"), handover.toString());
      Files.move(control.resolve("ready.tmp"), control.resolve("ready"));
      await("the test says go", () -> Files.exists(control.resolve("go")));
    }
    check(!Files.exists(session), "session directory deleted on close");
    System.out.println("ALL CHECKS PASSED");
    System.exit(0);
  }

  private static void check(boolean ok, String what) {
    System.out.println((ok ? "ok: " : "FAILED: ") + what);
    if (!ok) {
      System.exit(1);
    }
  }

  private static void await(String what, java.util.function.BooleanSupplier condition) throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() - deadline > 0) {
        check(false, "timed out waiting until " + what);
      }
      Thread.sleep(50); // a condition-wait
    }
  }
}
