package io.procpool.api;

import java.io.Serializable;

/**
 * A task without argument or result, such as a worker {@code initializer} or a function that only
 * prints. Lambdas and method references targeting it are serializable.
 */
@FunctionalInterface
public interface SerializableRunnable extends Serializable {
  /**
   * Runs the task.
   *
   * @throws Exception any failure; it reaches the caller as the cause of a {@link TaskFailedException}
   */
  void run() throws Exception;
}
