package io.procpool.api;

/** The pool was terminated before the task completed; the task may or may not have run. */
public class PoolTerminatedException extends ProcPoolException {
  private static final long serialVersionUID = 1L;

  public PoolTerminatedException(String message) {
    super(message);
  }
}
