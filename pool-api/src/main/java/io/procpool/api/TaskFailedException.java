package io.procpool.api;

/**
 * Thrown by the blocking calls ({@code apply}, {@code map}, the {@code imap} iterators) when the task
 * itself threw. The cause is the task's exception rebuilt in this JVM, or a {@link RemoteException}
 * when it could not be rebuilt.
 */
public class TaskFailedException extends ProcPoolException {
  private static final long serialVersionUID = 1L;

  public TaskFailedException(String message, Throwable cause) {
    super(message, cause);
  }
}
