package io.procpool.testkit;

import io.procpool.api.ProcessPool;
import java.time.Duration;
import java.util.List;
import java.util.stream.Collectors;

/**
 * A parent JVM for the parent-death test: {@code java -cp <classpath> io.procpool.testkit.ContractParentMain
 * <transport>} starts a pool of 2 workers with that transport, runs one task, prints
 * {@code WORKERS <pid> <pid>} to stdout and then blocks until it is killed.
 *
 * <p>As a safety net against leaks when the test itself dies, it also exits (terminating its pool) when
 * its stdin reaches end-of-file, and after {@value #MAX_LIFETIME_MINUTES} minutes at most.
 */
public final class ContractParentMain {
  static final int MAX_LIFETIME_MINUTES = 10;

  private ContractParentMain() {}

  public static void main(String[] args) throws Exception {
    if (args.length != 1) {
      System.err.println("usage: ContractParentMain <transport>");
      System.exit(2);
    }
    Thread watchdog = new Thread(() -> {
      try {
        Thread.sleep(Duration.ofMinutes(MAX_LIFETIME_MINUTES).toMillis());
      } catch (InterruptedException e) {
        return;
      }
      Runtime.getRuntime().halt(3);
    }, "contract-parent-watchdog");
    watchdog.setDaemon(true);
    watchdog.start();

    ProcessPool pool = ProcessPool.builder().transport(args[0]).processes(2).build();
    pool.apply(ContractTasks::pid);
    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    while (pool.workerPids().size() < 2 && System.nanoTime() < deadline) {
      ProcessSupport.pause();
    }
    List<Long> pids = pool.workerPids();
    System.out.println("WORKERS " + pids.stream().map(String::valueOf).collect(Collectors.joining(" ")));
    System.out.flush();

    while (System.in.read() != -1) {
      // Block until the test closes our stdin or kills us.
    }
    pool.terminate();
    System.exit(0);
  }
}
