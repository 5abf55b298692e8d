package io.procpool.api;

/**
 * A {@link ManagedQueue} had no item to give: {@code getNowait()}, or {@code get(timeout)} after
 * the timeout. Python's {@code queue.Empty}.
 */
public class QueueEmptyException extends ProcPoolException {
  private static final long serialVersionUID = 1L;

  private final String managerAddress;

  /**
   * @param message what happened
   * @param managerAddress the address of the queue's manager
   */
  public QueueEmptyException(String message, String managerAddress) {
    super(message);
    this.managerAddress = managerAddress;
  }

  /** The address of the manager that hosts the queue, as {@link Manager#address()} gives it. */
  public String managerAddress() {
    return managerAddress;
  }
}
