package io.procpool.api.spi;

import io.procpool.api.ProcessPool;
import java.util.ServiceLoader;

/**
 * Creates pools; implemented by pool-core and found with {@link ServiceLoader}. Users never call it:
 * {@link ProcessPool#builder()} does.
 */
public interface PoolFactory {

  /**
   * Starts a pool.
   *
   * @throws io.procpool.api.WorkerStartException if its workers cannot be started
   */
  ProcessPool create(PoolOptions options);

  /**
   * The first factory on the classpath.
   *
   * @throws IllegalStateException if there is none
   */
  static PoolFactory load() {
    return ServiceLoader.load(PoolFactory.class, TransportRegistry.loader())
        .findFirst()
        .or(() -> ServiceLoader.load(PoolFactory.class, PoolFactory.class.getClassLoader()).findFirst())
        .orElseThrow(() -> {
          String unregistered = TransportRegistry.unregistered(PoolFactory.class, "io.procpool.core.DefaultPoolFactory", null);
          return new IllegalStateException("no procpool implementation on the classpath: "
              + (unregistered != null ? unregistered : "add the artifact io.procpool:pool-core"));
        });
  }
}
