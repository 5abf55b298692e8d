package io.procpool.api.spi;

import java.io.Closeable;

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
