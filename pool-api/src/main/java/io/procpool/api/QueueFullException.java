package io.procpool.api;

/**
 * A bounded {@link ManagedQueue} had no room: {@code putNowait(item)}, or {@code put(item, timeout)}
 * after the timeout. Python's {@code queue.Full}.
 */
public class QueueFullException extends ProcPoolException {
  private static final long serialVersionUID = 1L;

  private final String managerAddress;

  /**
   * @param message what happened
   * @param managerAddress the address of the queue's manager
   */
  public QueueFullException(String message, String managerAddress) {
    super(message);
    this.managerAddress = managerAddress;
  }

  /** The address of the manager that hosts the queue, as {@link Manager#address()} gives it. */
  public String managerAddress() {
    return managerAddress;
  }
}
