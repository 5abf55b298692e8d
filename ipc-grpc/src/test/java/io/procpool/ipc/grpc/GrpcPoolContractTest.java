package io.procpool.ipc.grpc;

import io.procpool.testkit.AbstractPoolContractTest;
import io.procpool.testkit.Capability;
import java.util.EnumSet;
import java.util.Set;

/** The pool contract over gRPC, against real worker JVMs: the same suite as every transport. */
class GrpcPoolContractTest extends AbstractPoolContractTest {
  @Override
  protected String transport() {
    return "grpc";
  }

  @Override
  protected Set<Capability> capabilities() {
    return EnumSet.allOf(Capability.class);
  }
}
