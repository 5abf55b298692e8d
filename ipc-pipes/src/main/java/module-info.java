/**
 * The default procpool transport, {@code "pipes"} (authenticated UNIX-domain sockets), provided to
 * {@link java.util.ServiceLoader} as an {@link io.procpool.api.spi.TransportProvider}. Only
 * {@link io.procpool.ipc.pipes.PipesTransportProvider} (for its property names) is public.
 */
module io.procpool.ipc.pipes {
  requires transitive io.procpool.api;

  exports io.procpool.ipc.pipes;

  provides io.procpool.api.spi.TransportProvider with io.procpool.ipc.pipes.PipesTransportProvider;
}
