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
  }
}
