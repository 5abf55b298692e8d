package io.procpool.api;

/** A task was submitted to a pool after {@code close()} or {@code terminate()}. */
public class PoolClosedException extends ProcPoolException {
  private static final long serialVersionUID = 1L;

  public PoolClosedException(String message) {
    super(message);
  }
}
