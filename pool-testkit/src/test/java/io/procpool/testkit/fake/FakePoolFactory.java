package io.procpool.testkit.fake;

import io.procpool.api.ProcessPool;
import io.procpool.api.spi.PoolFactory;
import io.procpool.api.spi.PoolOptions;
import io.procpool.api.spi.TransportRegistry;

/** Creates {@link FakePool}s for the transport "fake"; any other name fails as the registry says. */
public final class FakePoolFactory implements PoolFactory {
  @Override
  public ProcessPool create(PoolOptions options) {
    if (!options.transport().equals("fake")) {
      TransportRegistry.get(options.transport()); // throws IllegalArgumentException for unknown names
      throw new IllegalArgumentException("the fake factory only runs the fake transport");
    }
    return new FakePool(options);
  }
}
