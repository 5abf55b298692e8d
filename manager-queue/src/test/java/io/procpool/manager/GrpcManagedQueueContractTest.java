package io.procpool.manager;

/** The managed-queue contract over gRPC: the manager and the pool both use the grpc transport. */
class GrpcManagedQueueContractTest extends AbstractManagedQueueContractTest {
  @Override
  protected String transport() {
    return "grpc";
  }
}
