package io.procpool.api;

/**
 * Workers could not be started: the JVM failed to launch or to connect back, or the pool's
 * {@code initializer} threw (then the cause is the initializer's exception). Thrown by
 * {@code build()} when it happens while the pool starts; afterwards it fails the tasks that can no
 * longer run. The pool does not respawn workers forever: it gives up and reports this instead.
 */
public class WorkerStartException extends ProcPoolException {
  private static final long serialVersionUID = 1L;

  public WorkerStartException(String message) {
    super(message);
  }

  public WorkerStartException(String message, Throwable cause) {
    super(message, cause);
  }
}
