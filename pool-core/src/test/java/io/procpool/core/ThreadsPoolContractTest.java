package io.procpool.core;

import io.procpool.testkit.AbstractPoolContractTest;
import io.procpool.testkit.Capability;
import java.util.EnumSet;
import java.util.Set;

/** The pool contract over the in-JVM transport: everything but process isolation. */
class ThreadsPoolContractTest extends AbstractPoolContractTest {
  @Override
  protected String transport() {
    return "threads";
  }

  @Override
  protected Set<Capability> capabilities() {
    return EnumSet.of(Capability.OUTPUT_FORWARDING);
  }
}
