package io.procpool.api;

import java.time.Duration;

/**
 * The task ran longer than the pool's {@code taskTimeout}. Its worker was killed and replaced.
 */
public class TaskTimeoutException extends ProcPoolException {
  private static final long serialVersionUID = 1L;

  private final Duration timeout;
  private final long workerPid;

  public TaskTimeoutException(String message, Duration timeout, long workerPid) {
    super(message);
    this.timeout = timeout;
    this.workerPid = workerPid;
  }

  /** The timeout that expired. */
  public Duration timeout() {
    return timeout;
  }

  /** The pid of the worker that was killed, or {@code -1} if unknown. */
  public long workerPid() {
    return workerPid;
  }
}
