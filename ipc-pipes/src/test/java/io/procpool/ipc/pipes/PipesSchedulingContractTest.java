package io.procpool.ipc.pipes;

import io.procpool.testkit.AbstractSchedulingContractTest;
import io.procpool.testkit.Capability;
import java.util.EnumSet;
import java.util.Set;

/** The scheduling contract over the default transport, against real worker JVMs. */
class PipesSchedulingContractTest extends AbstractSchedulingContractTest {
  @Override
  protected String transport() {
    return "pipes";
  }

  @Override
  protected Set<Capability> capabilities() {
    return EnumSet.allOf(Capability.class);
  }
}
