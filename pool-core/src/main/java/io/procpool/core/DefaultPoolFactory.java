package io.procpool.core;

import io.procpool.api.ProcessPool;
import io.procpool.api.spi.PoolFactory;
import io.procpool.api.spi.PoolOptions;
import io.procpool.core.internal.DefaultProcessPool;

/** The {@link PoolFactory} of pool-core, found by {@code ProcessPool.builder()} through ServiceLoader. */
public final class DefaultPoolFactory implements PoolFactory {

  /** Creates the factory; it is stateless. */
  public DefaultPoolFactory() {}

  @Override
  public ProcessPool create(PoolOptions options) {
    return DefaultProcessPool.start(options);
  }
}
