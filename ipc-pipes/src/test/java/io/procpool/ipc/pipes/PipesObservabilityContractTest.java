package io.procpool.ipc.pipes;

import io.procpool.testkit.AbstractObservabilityContractTest;
import io.procpool.testkit.Capability;
import java.util.EnumSet;
import java.util.Set;

/** Progress, statistics and the callback executor over the default transport, against real worker JVMs. */
class PipesObservabilityContractTest extends AbstractObservabilityContractTest {
  @Override
  protected String transport() {
    return "pipes";
  }

  @Override
  protected Set<Capability> capabilities() {
    return EnumSet.allOf(Capability.class);
  }
}
