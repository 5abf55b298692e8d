package io.procpool.manager;

import io.procpool.api.Manager;
import io.procpool.manager.internal.ManagerHandle;
import io.procpool.testkit.ManagerProbe;

/**
 * The testkit's {@link ManagerProbe} for this module's manager: answers from {@link ManagerHandle}
 * (the pid of the process it started, the STATS op, QSIZE on a queue id) and reads a queue's id from
 * its proxy's {@code toString} ({@code "ManagedQueue[#12, maxsize=..."}).
 */
final class ManagerHandleProbe implements ManagerProbe {

  @Override
  public long pid(Manager manager) {
    long pid = handle(manager).pid();
    if (pid <= 0) {
      throw new AssertionError(manager + " was not started by this JVM: it has no manager process here");
    }
    return pid;
  }

  @Override
  public Stats stats(Manager manager) {
    ManagerHandle.Stats s = handle(manager).stats();
    return new Stats(s.queues(), s.items(), s.itemBytes());
  }

  @Override
  public long queueId(String proxyToString) {
    int from = proxyToString.indexOf("[#");
    int to = proxyToString.indexOf(',', from + 2);
    if (from < 0 || to < 0) {
      throw new AssertionError("not the description of an anonymous queue's proxy: " + proxyToString);
    }
    return Long.parseLong(proxyToString.substring(from + 2, to));
  }

  @Override
  public boolean queueExists(Manager manager, long queueId) {
    return handle(manager).queueExists(queueId);
  }

  private static ManagerHandle handle(Manager manager) {
    if (manager instanceof ManagerHandle) {
      return (ManagerHandle) manager;
    }
    throw new AssertionError("not manager-queue's Manager: " + manager.getClass().getName());
  }
}
