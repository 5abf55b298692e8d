/**
 * The procpool API: {@link io.procpool.api.ProcessPool}, {@link io.procpool.api.Manager} and their
 * futures, options and exceptions, plus the service-provider interfaces in {@code io.procpool.api.spi}
 * that implementations (pool-core, the transports, manager-queue) provide.
 *
 * <p>The implementations are found with {@link java.util.ServiceLoader}, so an application on the
 * module path needs only {@code requires io.procpool.api;} and the implementation modules on the
 * module path (pool-core, a transport, manager-queue for managed queues): the module system binds
 * them as providers of the services used here.
 */
module io.procpool.api {
  exports io.procpool.api;
  exports io.procpool.api.spi;
  exports io.procpool.api.cluster;

  uses io.procpool.api.spi.PoolFactory;
  uses io.procpool.api.spi.ManagerFactory;
  uses io.procpool.api.spi.TransportProvider;
  uses io.procpool.api.spi.Codec;
  uses io.procpool.api.cluster.ClusterProvider;
}
