package io.procpool.reliability;

import io.procpool.api.ManagedQueue;
import io.procpool.api.Manager;
import io.procpool.api.ProcessPool;
import io.procpool.manager.internal.ManagerHandle;
import java.util.stream.Collectors;

/**
 * A parent JVM for the parent-kill test: {@code PoolAndManagerParentMain <transport>} starts a manager
 * and a pool of 2 workers, sends a queue item through a worker, prints
 * {@code PIDS <manager pid> <worker pid> <worker pid>} and blocks until killed. Safety nets: it exits
 * on EOF of its stdin and after 3 minutes.
 */
public final class PoolAndManagerParentMain {
  private PoolAndManagerParentMain() {}

  public static void main(String[] args) throws Exception {
    Thread watchdog = new Thread(() -> {
      Rel.pause(180_000);
      Runtime.getRuntime().halt(3);
    });
    watchdog.setDaemon(true);
    watchdog.start();
    Manager manager = Manager.builder().transport(args[0]).build();
    ProcessPool pool = ProcessPool.builder().transport(args[0]).processes(2).build();
    ManagedQueue<String> q = manager.queue();
    pool.apply((ManagedQueue<String> qq) -> {
      qq.put("from " + ProcessHandle.current().pid());
      return null;
    }, q);
    q.get();
    Rel.await(java.time.Duration.ofSeconds(60), () -> pool.workerPids().size() == 2);
    System.out.println("PIDS " + ((ManagerHandle) manager).pid() + " "
        + pool.workerPids().stream().map(String::valueOf).collect(Collectors.joining(" ")));
    System.out.flush();
    while (System.in.read() != -1) {
      // until the test closes our stdin or kills us
    }
    pool.terminate();
    manager.close();
    System.exit(0);
  }
}
