package io.procpool.testkit;

import java.util.EnumSet;
import java.util.Set;

/**
 * Runs the contract suite against {@link io.procpool.testkit.fake.FakePool}, an in-JVM stand-in that
 * exists only to check the suite itself (that it compiles into sensible tests and passes against a
 * pool that follows the contract). Tests that need separate processes are skipped.
 */
class FakePoolContractTest extends AbstractPoolContractTest {
  @Override
  protected String transport() {
    return "fake";
  }

  @Override
  protected Set<Capability> capabilities() {
    return EnumSet.of(Capability.OUTPUT_FORWARDING);
  }
}
