package io.procpool.manager;

import io.procpool.testkit.AbstractManagedQueueContractTest;
import io.procpool.testkit.ManagerProbe;

/** The managed-queue contract over gRPC: the manager and the pool both use the grpc transport. */
class GrpcManagedQueueContractTest extends AbstractManagedQueueContractTest {
  @Override
  protected String transport() {
    return "grpc";
  }

  @Override
  protected ManagerProbe managerProbe() {
    return new ManagerHandleProbe();
  }
}
