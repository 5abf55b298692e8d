package io.procpool.api;

/**
 * A task, argument or result could not be encoded or decoded (not serializable, refused by the
 * deserialization filter, larger than the maximum frame size, class missing). For tasks and arguments
 * it is thrown at submit time in the caller's thread and nothing is sent; for a result, only that task
 * fails and the worker lives on.
 */
public class TaskSerializationException extends ProcPoolException {
  private static final long serialVersionUID = 1L;

  public TaskSerializationException(String message) {
    super(message);
  }

  public TaskSerializationException(String message, Throwable cause) {
    super(message, cause);
  }
}
