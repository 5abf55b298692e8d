package io.procpool.testkit;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.opentest4j.TestAbortedException;

/**
 * A subclass of {@link AbstractManagedQueueContractTest} that supplies no {@link ManagerProbe} (as a
 * third-party transport's may not): the tests that need one are skipped with the reason, before they
 * start a manager or a pool (this module has neither on its classpath, so anything else would fail
 * here rather than skip).
 */
class ManagedQueueSuiteWithoutProbeTest {

  /** The suite with no probe, called directly (no {@code @BeforeAll}: these tests must not need it). */
  private static final class WithoutProbe extends AbstractManagedQueueContractTest {
    @Override
    protected String transport() {
      return "no-such-transport";
    }
  }

  @Test
  void everyTestThatNeedsTheProbeIsSkippedWithTheReason() {
    WithoutProbe suite = new WithoutProbe();
    List<String> messages = new ArrayList<>();
    for (Executable test : List.<Executable>of(
        suite::killingTheManagerFailsABlockedWorkerGetWithin2Seconds,
        suite::closeEndsTheManagerProcess,
        suite::manyDroppedQueuesAreFreedSoTheManagerStaysBounded,
        suite::closeReleasesTheQueueAndAClosedProxyFailsClearly,
        suite::aGarbageCollectedProxyReleasesItsQueue,
        suite::theEndOfAClientsConnectionReleasesItsQueues,
        suite::aProxyInATaskArgumentStillWorksAfterTheParentDroppedItsOwn)) {
      TestAbortedException e = assertThrows(TestAbortedException.class, test);
      messages.add(e.getMessage());
      assertTrue(e.getMessage().contains("WithoutProbe supplies no ManagerProbe (override managerProbe())")
          && e.getMessage().contains("which the public API does not show"), e.getMessage());
    }
    assertTrue(messages.get(0).contains("the manager process's pid"), messages.get(0));
    assertTrue(messages.get(2).contains("how many queues and item bytes the manager holds"), messages.get(2));
    assertTrue(messages.get(3).contains("whether the manager still holds a queue"), messages.get(3));
  }
}
