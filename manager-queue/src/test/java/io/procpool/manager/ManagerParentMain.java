package io.procpool.manager;

import io.procpool.api.Manager;

/**
 * A parent JVM for the "manager exits when its parent dies" test: starts a manager, prints
 * {@code MANAGER <pid>} and sleeps until killed.
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
