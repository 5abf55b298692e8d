package io.procpool.testkit;

/**
 * What a transport under test can do beyond the common contract. A subclass of
 * {@link AbstractPoolContractTest} lists its transport's capabilities; tests that need one are skipped
 * (not failed) for transports without it.
 */
public enum Capability {

  /**
   * Workers are separate JVMs: their pids differ from the parent's, they can be killed with SIGKILL,
   * a task's {@code System.exit} kills only its own worker, and a worker exits when its parent is
   * killed. Every transport except the in-JVM debugging one ({@code "threads"}) has it.
   */
  SEPARATE_PROCESSES,

  /**
   * What a task prints with {@code System.out} reaches the parent's {@code System.out} (whatever stream
   * it is at the time, so that a test can capture it with {@link System#setOut}), line by line and in
   * order.
   */
  OUTPUT_FORWARDING,
}
