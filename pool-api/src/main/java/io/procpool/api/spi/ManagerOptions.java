package io.procpool.api.spi;

import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * The settings of a manager process, as {@code Manager.builder()} collects them. Immutable.
 */
public final class ManagerOptions {
  private final String transport;
  private final List<String> jvmOptions;
  private final String listenAddress;
  private final String classpath;

  /**
   * @param transport the transport name
   * @param jvmOptions extra options for the manager JVM
   * @param listenAddress where the manager listens, or {@code null} for the transport's default
   * @param classpath the manager JVM's classpath
   */
  public ManagerOptions(String transport, List<String> jvmOptions, String listenAddress, String classpath) {
    this.transport = Objects.requireNonNull(transport, "transport");
    this.jvmOptions = List.copyOf(jvmOptions);
    this.listenAddress = listenAddress;
    this.classpath = Objects.requireNonNull(classpath, "classpath");
  }

  /** The transport name, e.g. {@code "pipes"}. */
  public String transport() {
    return transport;
  }

  /** Extra options for the manager JVM. */
  public List<String> jvmOptions() {
    return jvmOptions;
  }

  /** Where the manager listens, if configured. */
  public Optional<String> listenAddress() {
    return Optional.ofNullable(listenAddress);
  }

  /** The manager JVM's classpath. */
  public String classpath() {
    return classpath;
  }

  @Override
  public String toString() {
    return "ManagerOptions{transport=" + transport + ", jvmOptions=" + jvmOptions + ", listenAddress="
        + listenAddress + "}";
  }
}
