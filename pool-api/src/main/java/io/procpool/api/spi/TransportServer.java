package io.procpool.api.spi;

import java.io.Closeable;
import java.util.Map;

/**
 * The parent's listening endpoint of a transport. Workers connect to {@link #address()}; each
 * connection that passes authentication is handed to the pool's {@link Acceptor}.
 */
public interface TransportServer extends Closeable {

  /**
   * The address workers connect to, as understood by the same provider's
   * {@link TransportProvider#connect}; for example a socket path or {@code host:port}.
   */
  String address();

  /**
   * Transport properties a client on this host needs, besides the key, to connect to this server:
   * the client-side settings among the server's own properties and what follows from the others (for
   * example trust in the server's own TLS certificate). They hold no secret and never name a
   * server-side key file, because a manager's queue proxies carry them wherever they are serialized.
   * A pool hands them (with its own properties) to the workers it starts, and a manager to its
   * clients, through the same private channel as the auth key (never a command line), so that a pool
   * or manager that encrypts can start its own children without further configuration. Empty by
   * default.
   */
  default Map<String, String> clientProperties() {
    return Map.of();
  }

  /** Stops accepting connections and closes the endpoint; open connections are closed too. Idempotent. */
  @Override
  void close();

  /** Receives the connections of workers, after the transport has authenticated them. */
  @FunctionalInterface
  interface Acceptor {
    /**
     * A worker connected and proved the auth key. Called on a transport thread; the pool calls
     * {@link Connection#start} to receive its messages.
     */
    void onConnection(Connection connection);
  }
}
