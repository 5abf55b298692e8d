package io.procpool.api.spi;

import java.io.IOException;
import java.util.List;

/**
 * A transport: how the parent and its workers exchange messages. Found with
 * {@link java.util.ServiceLoader} (list the class in
 * {@code META-INF/services/io.procpool.api.spi.TransportProvider}) and selected by {@link #name()}.
 *
 * <p>A transport moves opaque messages and authenticates peers; it knows nothing of tasks. The pool
 * owns encoding, scheduling and worker processes. To add a transport, implement this class,
 * {@link TransportServer} and {@link Connection}, then run the contract suites of
 * {@code io.procpool:pool-testkit} against it. A transport is done when the connection, pool and
 * queue suites pass:
 * <ul>
 *   <li>the connection suite, {@code AbstractConnectionContractTest}: this SPI as its javadoc states
 *       it (ordering, large and oversize messages, {@code onClosed} exactly once, interrupts, failing
 *       listeners, mutual authentication), with no pool involved;
 *   <li>the pool suites, {@code AbstractPoolContractTest} and {@code AbstractSchedulingContractTest}:
 *       a {@code ProcessPool} of real workers over the transport;
 *   <li>the queue suite, {@code AbstractManagedQueueContractTest}: managed queues over the transport.
 * </ul>
 * Each suite is an abstract JUnit class; a transport's test class extends it and supplies the
 * provider or transport name.
 *
 * <p>Implementations must have a public no-argument constructor, must be thread-safe and stateless
 * (state lives in servers and connections), and must not throw from the constructor,
 * {@link #name()}, {@link #isAvailable()} or {@link #priority()}.
 */
public abstract class TransportProvider {

  /** For subclasses; {@link java.util.ServiceLoader} calls theirs. */
  protected TransportProvider() {}

  /** The name users select in {@code ProcessPool.builder().transport(name)}, e.g. {@code "pipes"}. */
  public abstract String name();

  /**
   * Whether this provider can work in this JVM (its platform support and dependencies are present).
   * Unavailable providers are skipped.
   */
  public boolean isAvailable() {
    return true;
  }

  /**
   * Breaks ties between available providers of the same name: the highest wins. 5 is the default;
   * use a higher value to replace a built-in transport.
   */
  public int priority() {
    return 5;
  }

  /**
   * Whether workers of this transport are threads of the parent JVM rather than processes. Only the
   * in-JVM debugging transport says {@code true}.
   */
  public boolean workersInProcess() {
    return false;
  }

  /**
   * JVM options for the worker and manager JVMs that procpool starts to connect with this transport
   * (for instance, to turn off a library feature that slows a child's start). They come before the
   * user's {@code jvmOptions}, so that the user's win where the JVM takes the last value (a
   * {@code -D} property set twice). Default: none.
   */
  public List<String> childJvmOptions() {
    return List.of();
  }

  /**
   * Transport properties for a pool whose workers a cluster engine places on other machines
   * ({@code ProcessPool.Builder.cluster}): the pool's server uses them and hands them to those workers,
   * under any the user set. For instance a faster detection of a peer whose machine was cut off than
   * suits local workers. Default: none.
   */
  public java.util.Map<String, String> clusterProperties() {
    return java.util.Map.of();
  }

  /**
   * Parent side: opens a listening endpoint. Every worker connection that proves
   * {@link TransportOptions#authKey()} is passed to {@code acceptor}; others are refused with a clear
   * error on the worker side and never reach the pool.
   *
   * @throws IOException if the endpoint cannot be opened
   */
  public abstract TransportServer listen(TransportOptions options, TransportServer.Acceptor acceptor)
      throws IOException;

  /**
   * Worker side: connects to a server's {@link TransportServer#address()} and authenticates with
   * {@link TransportOptions#authKey()}. Returns once the connection is authenticated.
   *
   * @throws ProtocolException if the server refused the key or speaks another protocol version
   * @throws IOException if the server cannot be reached
   */
  public abstract Connection connect(String address, TransportOptions options) throws IOException;

  @Override
  public String toString() {
    return getClass().getName() + "[name=" + name() + ", priority=" + priority() + "]";
  }
}
