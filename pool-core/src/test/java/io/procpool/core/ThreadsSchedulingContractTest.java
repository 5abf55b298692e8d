package io.procpool.core;

import io.procpool.testkit.AbstractSchedulingContractTest;
import io.procpool.testkit.Capability;
import java.util.EnumSet;
import java.util.Set;

/** The scheduling contract over the in-JVM transport: everything but process isolation. */
class ThreadsSchedulingContractTest extends AbstractSchedulingContractTest {
  @Override
  protected String transport() {
    return "threads";
  }

  @Override
  protected Set<Capability> capabilities() {
    return EnumSet.of(Capability.OUTPUT_FORWARDING);
  }
}
