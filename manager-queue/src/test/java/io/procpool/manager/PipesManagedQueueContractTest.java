package io.procpool.manager;

import io.procpool.testkit.AbstractManagedQueueContractTest;
import io.procpool.testkit.ManagerProbe;

/** The managed-queue contract over the default transport, {@code pipes}. */
class PipesManagedQueueContractTest extends AbstractManagedQueueContractTest {
  @Override
  protected String transport() {
    return "pipes";
  }

  @Override
  protected ManagerProbe managerProbe() {
    return new ManagerHandleProbe();
  }
}
