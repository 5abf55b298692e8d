package io.procpool.ipc.grpc;

import io.procpool.testkit.AbstractObservabilityContractTest;
import io.procpool.testkit.Capability;
import java.util.EnumSet;
import java.util.Set;

/** Progress, statistics and the callback executor over gRPC, against real worker JVMs. */
class GrpcObservabilityContractTest extends AbstractObservabilityContractTest {
  @Override
  protected String transport() {
    return "grpc";
  }

  @Override
  protected Set<Capability> capabilities() {
    return EnumSet.allOf(Capability.class);
  }
}
