package io.procpool.core;

import io.procpool.testkit.AbstractObservabilityContractTest;
import io.procpool.testkit.Capability;
import java.util.EnumSet;
import java.util.Set;

/** Progress, statistics and the callback executor over the in-JVM transport. */
class ThreadsObservabilityContractTest extends AbstractObservabilityContractTest {
  @Override
  protected String transport() {
    return "threads";
  }

  @Override
  protected Set<Capability> capabilities() {
    return EnumSet.of(Capability.OUTPUT_FORWARDING);
  }
}
