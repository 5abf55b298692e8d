/**
 * The procpool manager ({@code multiprocessing.Manager()}): the {@link io.procpool.api.spi.ManagerFactory}
 * behind {@code Manager.start()} and the manager process's main class {@link io.procpool.manager.ManagerMain}.
 * The {@code internal} package is not API.
 */
module io.procpool.manager {
  requires transitive io.procpool.api;
  requires io.procpool.core;

  exports io.procpool.manager;

  provides io.procpool.api.spi.ManagerFactory with io.procpool.manager.DefaultManagerFactory;
}
