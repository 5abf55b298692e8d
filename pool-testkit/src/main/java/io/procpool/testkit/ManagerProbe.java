package io.procpool.testkit;

import io.procpool.api.ManagedQueue;
import io.procpool.api.Manager;

/**
 * What {@link AbstractManagedQueueContractTest} needs to see inside a manager that the public API does
 * not show: the manager process's pid, what the manager holds, and whether it still holds a given
 * queue. The manager implementation supplies it (procpool's own, in {@code io.procpool:manager-queue},
 * answers from its internal handle); a subclass of the suite returns it from
 * {@link AbstractManagedQueueContractTest#managerProbe()}. Without one, the tests that need it are
 * skipped (aborted with the reason) and every other test runs.
 *
 * <p>Every method is called from the test thread, with a manager the suite obtained from
 * {@link Manager#builder()} (started by this JVM) and queues it opened from that manager. A method may
 * throw {@link AssertionError} if it cannot answer for such a manager or queue.
 */
public interface ManagerProbe {

  /**
   * The pid of the manager process that this JVM started as {@code manager} (with
   * {@code Manager.builder()...build()}).
   */
  long pid(Manager manager);

  /** What the manager behind {@code manager} holds now, across every client. */
  Stats stats(Manager manager);

  /**
   * The manager's id of an anonymous queue, as {@link #queueExists} takes it, from the
   * {@code toString()} of one of its proxies ({@link ManagedQueue}). The suite passes a string, not
   * the proxy, because some proxies live in a worker process (only their description comes back) and
   * because it keeps the id after it dropped or closed the proxy.
   */
  long queueId(String proxyToString);

  /** Whether the manager behind {@code manager} still holds the queue with this id. */
  boolean queueExists(Manager manager, long queueId);

  /**
   * What a manager holds at one moment.
   *
   * @param queues the queues it holds, named and anonymous
   * @param items the items in all of them
   * @param itemBytes the encoded size of those items, in bytes
   */
  record Stats(int queues, long items, long itemBytes) {}
}
