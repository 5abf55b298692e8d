package io.procpool.testkit;

import io.procpool.api.Manager;

/**
 * A parent JVM for the "manager exits when its parent dies" test of
 * {@link AbstractManagedQueueContractTest}: {@code java -cp <classpath> io.procpool.testkit.ManagerParentMain
 * <transport>} starts a manager with that transport, prints {@code MANAGER <pid> <address>} and sleeps
 * until killed (at most a minute, then it closes the manager and exits).
 */
public final class ManagerParentMain {
  private ManagerParentMain() {}

  public static void main(String[] args) throws Exception {
    Manager manager = Manager.builder().transport(args[0]).build();
    long pid = ProcessHandle.current().children().mapToLong(ProcessHandle::pid).findFirst().orElse(-1);
    System.out.println("MANAGER " + pid + " " + manager.address());
    System.out.flush();
    Thread.sleep(60_000);
    manager.close();
  }
}
