package io.procpool.testkit.fake;

import io.procpool.testkit.AbstractPoolContractTest;
import io.procpool.testkit.Capability;
import java.util.EnumSet;
import java.util.Set;

/**
 * Runs the contract suite, from another package as transports do, against {@link FakePool}, an in-JVM stand-in that
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
