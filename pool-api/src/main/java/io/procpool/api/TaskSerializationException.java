package io.procpool.api;

/**
 * A task, argument or result could not be encoded or decoded (not serializable, refused by the
 * deserialization filter, larger than the maximum frame size, class missing). When a task or argument
 * cannot be encoded it is thrown at submit time in the caller's thread and nothing is sent. When a
 * worker cannot decode it (typically a class the worker JVM cannot load: see
 * {@code ProcessPool.Builder.workerClasspath}), or the parent cannot decode a result, only that task
 * fails, with this exception, and the worker lives on.
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
