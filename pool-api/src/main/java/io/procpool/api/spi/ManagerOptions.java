package io.procpool.api.spi;

import java.util.List;
import java.util.Map;
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
  private final Map<String, String> transportProperties;

  /**
   * Options without transport properties.
   *
   * @param transport the transport name
   * @param jvmOptions extra options for the manager JVM
   * @param listenAddress where the manager listens, or {@code null} for the transport's default
   * @param classpath the manager JVM's classpath, or {@code null} to follow this JVM's (see
   *     {@link #classpath()})
   */
  public ManagerOptions(String transport, List<String> jvmOptions, String listenAddress, String classpath) {
    this(transport, jvmOptions, listenAddress, classpath, Map.of());
  }

  /**
   * @param transport the transport name
   * @param jvmOptions extra options for the manager JVM
   * @param listenAddress where the manager listens, or {@code null} for the transport's default
   * @param classpath the manager JVM's classpath, or {@code null} to follow this JVM's (see
   *     {@link #classpath()})
   * @param transportProperties transport-specific settings (e.g. {@code grpc.tls.certChain}), used by
   *     the manager's server and by its clients
   */
  public ManagerOptions(String transport, List<String> jvmOptions, String listenAddress, String classpath,
      Map<String, String> transportProperties) {
    this.transport = Objects.requireNonNull(transport, "transport");
    this.jvmOptions = List.copyOf(jvmOptions);
    this.listenAddress = listenAddress;
    this.classpath = classpath;
    this.transportProperties = Map.copyOf(transportProperties);
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

  /**
   * The manager JVM's classpath, if the user set one; when empty the factory starts the manager the
   * way this JVM runs (its classpath, class loaders, Spring Boot jar or module path), like a pool's
   * workers.
   */
  public Optional<String> classpath() {
    return Optional.ofNullable(classpath);
  }

  /**
   * Transport-specific settings, the same names as a pool's ({@code grpc.tls.*},
   * {@code allowPlaintext}, ...): the manager process listens with them, and its clients (this JVM
   * and the workers that use its queues) connect with them.
   */
  public Map<String, String> transportProperties() {
    return transportProperties;
  }

  @Override
  public String toString() {
    return "ManagerOptions{transport=" + transport + ", jvmOptions=" + jvmOptions + ", listenAddress="
        + listenAddress + ", transportProperties=" + transportProperties.keySet() + "}";
  }
}
