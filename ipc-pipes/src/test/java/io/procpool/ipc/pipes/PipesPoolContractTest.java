package io.procpool.ipc.pipes;

import io.procpool.testkit.AbstractPoolContractTest;
import io.procpool.testkit.Capability;
import java.util.EnumSet;
import java.util.Set;

/** The pool contract over the default transport, against real worker JVMs. */
class PipesPoolContractTest extends AbstractPoolContractTest {
  @Override
  protected String transport() {
    return "pipes";
  }

  @Override
  protected Set<Capability> capabilities() {
    return EnumSet.allOf(Capability.class);
  }
}
