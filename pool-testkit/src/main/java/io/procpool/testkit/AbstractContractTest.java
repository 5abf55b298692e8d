package io.procpool.testkit;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.procpool.api.AsyncResult;
import io.procpool.api.ProcessPool;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.BooleanSupplier;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.io.TempDir;

/**
 * What the contract suites share: the transport under test, pools of it, and bounded waits. A
 * transport's test classes extend the suites ({@link AbstractPoolContractTest},
 * {@link AbstractSchedulingContractTest}), not this class.
 */
public abstract class AbstractContractTest {

  /** How long a test waits for anything that should happen "soon" (results, workers starting). */
  protected static final Duration PATIENCE = Duration.ofSeconds(60);

  /** A task that "runs forever" for a test's purposes (at most this long); tests that start one end it. */
  protected static final long LONG_TASK_MILLIS = 60_000;

  /** A directory of the test's own, for marker and release files. */
  @TempDir protected Path tmp;

  /** The transport name under test, as passed to {@link ProcessPool.Builder#transport(String)}. */
  protected abstract String transport();

  /** What the transport can do beyond the common contract. */
  protected abstract Set<Capability> capabilities();

  /**
   * A builder for a pool of the transport under test, with no other option set but the worker
   * classpath ({@link TestClasspath#jarred()}). Override to add
   * transport-specific options (JVM options, transport properties); tests set {@code processes(n)}
   * and the other options themselves, so it must not set those.
   */
  protected ProcessPool.Builder builder() {
    // Jars rather than Maven's class directories: workers then start with class-data sharing.
    return ProcessPool.builder().transport(transport()).workerClasspath(TestClasspath.jarred());
  }

  /** A pool of the transport under test with {@code processes} workers and no other option. */
  protected final ProcessPool newPool(int processes) {
    return builder().processes(processes).build();
  }

  protected final boolean has(Capability capability) {
    return capabilities().contains(capability);
  }

  protected final void assumeCapability(Capability capability) {
    assumeTrue(has(capability), () -> "transport " + transport() + " lacks " + capability);
  }

  /** Waits for {@code condition} up to {@link #PATIENCE}, polling; fails naming {@code what}. */
  protected static void awaitCondition(String what, BooleanSupplier condition) {
    awaitCondition(what, PATIENCE, condition);
  }

  /** Waits for {@code condition} up to {@code timeout}, polling; fails naming {@code what}. */
  protected static void awaitCondition(String what, Duration timeout, BooleanSupplier condition) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        fail("timed out after " + timeout.toMillis() + " ms waiting for " + what);
      }
      ProcessSupport.pause();
    }
  }

  /** The failure of a task that must fail within {@link #PATIENCE}: the cause of get's ExecutionException. */
  protected static Throwable failureOf(Future<?> result) {
    return failureOf(result, PATIENCE);
  }

  /** The failure of a task that must fail within {@code timeout}: the cause of get's ExecutionException. */
  protected static Throwable failureOf(Future<?> result, Duration timeout) {
    return failureOf(result, timeout, "the task");
  }

  /** {@link #failureOf(Future, Duration)}, naming the task {@code what} in failure messages. */
  protected static Throwable failureOf(Future<?> result, Duration timeout, String what) {
    try {
      Object value = result.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
      return fail("expected " + what + " to fail, but it returned " + value);
    } catch (ExecutionException e) {
      assertNotNull(e.getCause(), "ExecutionException without a cause");
      return e.getCause();
    } catch (TimeoutException e) {
      return fail(what + " did not complete within " + timeout.toMillis() + " ms");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return fail("interrupted");
    }
  }

  /** {@code t} and its causes, for assertion messages. */
  protected static String describeChain(Throwable t) {
    if (t == null) {
      return "nothing";
    }
    StringBuilder sb = new StringBuilder();
    Set<Throwable> seen = Collections.newSetFromMap(new IdentityHashMap<>());
    for (Throwable x = t; x != null && seen.add(x); x = x.getCause()) {
      sb.append(sb.length() == 0 ? "" : " <- caused by ").append(x);
    }
    return sb.toString();
  }

  protected static List<Integer> range(int from, int to) {
    return IntStream.range(from, to).boxed().collect(Collectors.toList());
  }

  protected static <T extends Comparable<? super T>> List<T> sorted(Iterable<T> items) {
    List<T> list = new ArrayList<>();
    items.forEach(list::add);
    Collections.sort(list);
    return list;
  }

  /**
   * A task whose start the test observes (it writes its worker's pid to a marker file) and whose end
   * the test controls (it runs until the test creates its release file, at most
   * {@link #LONG_TASK_MILLIS}).
   */
  protected final class ControlledTask {
    final String marker;
    final String release;

    protected ControlledTask(String name) {
      String unique = name + "-" + UUID.randomUUID();
      this.marker = tmp.resolve(unique + ".started").toString();
      this.release = tmp.resolve(unique + ".release").toString();
    }

    public AsyncResult<Long> submit(ProcessPool pool) {
      String m = marker;
      String r = release;
      return pool.applyAsync(() -> ContractTasks.markStartedThenAwait(m, r, LONG_TASK_MILLIS));
    }

    public void awaitStarted() {
      awaitCondition("task " + marker + " to start", () -> Files.exists(Path.of(marker)));
    }

    /** The pid of the worker running the task; only after {@link #awaitStarted()}. */
    public long pid() {
      try {
        return Long.parseLong(Files.readString(Path.of(marker), StandardCharsets.UTF_8).trim());
      } catch (IOException e) {
        throw new AssertionError("cannot read " + marker, e);
      }
    }

    public void release() throws IOException {
      Files.writeString(Path.of(release), "go", StandardCharsets.UTF_8);
    }
  }
}
