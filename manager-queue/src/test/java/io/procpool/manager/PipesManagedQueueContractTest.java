package io.procpool.manager;

/** The managed-queue contract over the default transport, {@code pipes}. */
class PipesManagedQueueContractTest extends AbstractManagedQueueContractTest {
  @Override
  protected String transport() {
    return "pipes";
  }
}
