package io.procpool.api;

/** The root of every exception procpool throws on its own account. Unchecked. */
public class ProcPoolException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public ProcPoolException(String message) {
    super(message);
  }

  public ProcPoolException(String message, Throwable cause) {
    super(message, cause);
  }
}
