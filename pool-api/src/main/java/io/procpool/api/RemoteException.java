package io.procpool.api;

/**
 * Stands in for an exception thrown in a worker that could not be rebuilt in this JVM (its class or
 * one of its fields is not serializable, or its class is missing here). It carries the remote class
 * name and message, and its stack trace is the remote one.
 */
public class RemoteException extends ProcPoolException {
  private static final long serialVersionUID = 1L;

  private final String remoteClassName;
  private final String remoteMessage;

  public RemoteException(String remoteClassName, String remoteMessage, StackTraceElement[] remoteStackTrace) {
    super(remoteClassName + (remoteMessage == null ? "" : ": " + remoteMessage));
    this.remoteClassName = remoteClassName;
    this.remoteMessage = remoteMessage;
    setStackTrace(remoteStackTrace.clone());
  }

  /** The fully qualified class name of the exception thrown in the worker. */
  public String remoteClassName() {
    return remoteClassName;
  }

  /** The message of the exception thrown in the worker, or {@code null}. */
  public String remoteMessage() {
    return remoteMessage;
  }
}
