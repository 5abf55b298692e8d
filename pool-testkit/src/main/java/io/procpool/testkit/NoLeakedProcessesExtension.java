package io.procpool.testkit;

import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Fails a test that leaves child processes behind.
 *
 * <p>Before each test it records the pids of this JVM's descendants; after the test it waits up to
 * {@value #GRACE_SECONDS} seconds for every descendant that was not there before to exit. Any that
 * survive are destroyed forcibly (so that one leaky test does not poison the next ones) and the test
 * fails with their pids and command lines.
 *
 * <pre>{@code
 * @ExtendWith(NoLeakedProcessesExtension.class)
 * class MyPoolTest { ... }
 * }</pre>
 *
 * <p>It sees only descendants: a worker whose parent was killed is re-parented and escapes it, so tests
 * that kill a parent must track its workers themselves.
 */
public final class NoLeakedProcessesExtension implements BeforeEachCallback, AfterEachCallback {

  static final int GRACE_SECONDS = 10;

  private static final ExtensionContext.Namespace NAMESPACE =
      ExtensionContext.Namespace.create(NoLeakedProcessesExtension.class);
  private static final String BEFORE = "descendantsBefore";

  @Override
  public void beforeEach(ExtensionContext context) {
    context.getStore(NAMESPACE).put(BEFORE, descendantPids());
  }

  @Override
  public void afterEach(ExtensionContext context) {
    @SuppressWarnings("unchecked")
    Set<Long> before = (Set<Long>) context.getStore(NAMESPACE).remove(BEFORE);
    if (before == null) {
      return;
    }
    long deadline = System.nanoTime() + Duration.ofSeconds(GRACE_SECONDS).toNanos();
    List<ProcessHandle> leaked = newRunningDescendants(before);
    while (!leaked.isEmpty() && System.nanoTime() < deadline) {
      ProcessSupport.pause();
      leaked = newRunningDescendants(before);
    }
    if (leaked.isEmpty()) {
      return;
    }
    String description =
        leaked.stream().map(ProcessSupport::describe).collect(Collectors.joining("\n  ", "\n  ", ""));
    // Kill children before parents' pids can be reused, and leave nothing for the next test.
    for (ProcessHandle process : leaked) {
      process.descendants().forEach(ProcessHandle::destroyForcibly);
      process.destroyForcibly();
    }
    long killDeadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
    while (leaked.stream().anyMatch(ProcessSupport::isRunning) && System.nanoTime() < killDeadline) {
      ProcessSupport.pause();
    }
    throw new AssertionError(
        leaked.size() + " child process(es) still running " + GRACE_SECONDS
            + " s after the test; destroyed forcibly:" + description);
  }

  private static Set<Long> descendantPids() {
    return ProcessHandle.current().descendants().map(ProcessHandle::pid).collect(Collectors.toSet());
  }

  private static List<ProcessHandle> newRunningDescendants(Set<Long> before) {
    return ProcessHandle.current()
        .descendants()
        .filter(p -> !before.contains(p.pid()))
        .filter(ProcessSupport::isRunning)
        .collect(Collectors.toList());
  }
}
