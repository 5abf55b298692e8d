package io.procpool.ipc.grpc;

import io.procpool.testkit.AbstractSchedulingContractTest;
import io.procpool.testkit.Capability;
import java.util.EnumSet;
import java.util.Set;

/** The scheduling contract over gRPC, against real worker JVMs (same options as {@link GrpcPoolContractTest}). */
class GrpcSchedulingContractTest extends AbstractSchedulingContractTest {
  @Override
  protected String transport() {
    return "grpc";
  }

  @Override
  protected Set<Capability> capabilities() {
    return EnumSet.allOf(Capability.class);
  }
}
