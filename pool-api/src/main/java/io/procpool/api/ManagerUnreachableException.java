package io.procpool.api;

/**
 * The manager process cannot be reached: it died or was shut down while a call was waiting, it
 * refused the auth key, or it does not answer. Every call blocked on a dead manager fails with it
 * within about two seconds; no call on a {@link ManagedQueue} waits forever for a manager that is
 * gone.
 */
public class ManagerUnreachableException extends ProcPoolException {
  private static final long serialVersionUID = 1L;

  private final String managerAddress;

  /**
   * @param message what happened
   * @param managerAddress the manager's address
   * @param cause the underlying failure, or {@code null}
   */
  public ManagerUnreachableException(String message, String managerAddress, Throwable cause) {
    super(message, cause);
    this.managerAddress = managerAddress;
  }

  /** The address of the manager, as {@link Manager#address()} gives it. */
  public String managerAddress() {
    return managerAddress;
  }
}
