package io.procpool.core.internal;

import java.io.IOException;
import java.util.concurrent.CompletableFuture;

/** Starts workers: JVM processes, or threads for the in-JVM transport. */
interface WorkerLauncher {

  /**
   * Starts worker {@code workerId}, which will connect to {@code address}. Returns once it is
   * launched; it connects later.
   */
  Launched launch(int workerId, String address) throws IOException;

  /** A started worker, as the pool sees its process. */
  interface Launched {
    /** Its pid (this JVM's pid for in-JVM workers). */
    long pid();

    /** Completes with the exit code when the worker has ended ({@code null} when there is none). */
    CompletableFuture<Integer> onExit();

    /** Ends the worker now (SIGKILL for a process). */
    void kill();

    /** The last lines the worker wrote to stderr, for error messages; may be empty. */
    String stderrTail();

    /** How the worker JVM finds its classes, for the message when workers cannot start; null for in-JVM workers. */
    default String launchDescription() {
      return null;
    }

    /** The option that changes {@link #launchDescription()}, as a sentence fragment; null for in-JVM workers. */
    default String launchFix() {
      return null;
    }

    /**
     * Like {@link #onExit()}, for a caller about to wait a little for the exit code: a cluster job
     * asks its engine now rather than at the next poll.
     */
    default CompletableFuture<Integer> exitSoon() {
      return onExit();
    }

    /** How the cluster engine says the worker's job ended (e.g. CANCELLED, NODE_FAIL), once known; else null. */
    default String verdict() {
      return null;
    }

    /** What the worker is, for messages: e.g. {@code Slurm job 4242_1}; null for a local process. */
    default String describe() {
      return null;
    }
  }
}
