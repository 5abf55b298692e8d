package io.procpool.testkit;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Timeout.ThreadMode.SEPARATE_THREAD;

import io.procpool.api.AsyncResult;
import io.procpool.api.PoolClosedException;
import io.procpool.api.PoolTerminatedException;
import io.procpool.api.ProcessPool;
import io.procpool.api.RemoteException;
import io.procpool.api.SerializableCallable;
import io.procpool.api.SerializableRunnable;
import io.procpool.api.TaskFailedException;
import io.procpool.api.TaskSerializationException;
import io.procpool.api.TaskTimeoutException;
import io.procpool.api.WorkerCrashedException;
import io.procpool.api.WorkerStartException;
import io.procpool.testkit.ContractTasks.ContractFailure;
import io.procpool.testkit.ContractTasks.NotSerializableFailure;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.OptionalInt;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The contract of {@link ProcessPool}, run against one transport. A transport is done when its
 * subclass passes:
 *
 * <pre>{@code
 * class PipesPoolContractTest extends AbstractPoolContractTest {
 *   @Override protected String transport() { return "pipes"; }
 *   @Override protected Set<Capability> capabilities() {
 *     return EnumSet.of(Capability.SEPARATE_PROCESSES, Capability.OUTPUT_FORWARDING);
 *   }
 * }
 * }</pre>
 *
 * <p>Each test states one rule of the API (see the javadoc of {@link ProcessPool},
 * {@link AsyncResult} and the exceptions) and asserts the observable behaviour, including failure
 * causes, exit codes and pids. Tests that need a {@link Capability} the transport lacks are skipped.
 *
 * <p>Written for a loaded 2-core machine: waits are condition waits with generous deadlines (a worker
 * JVM can take seconds to start there); tasks sleep only to simulate work; timing assertions leave
 * wide margins and print what they measured. Every test closes or terminates its pools, and
 * {@link NoLeakedProcessesExtension} fails a test that leaves a child process behind.
 *
 * <p>Subclasses may override {@link #builder()} to add transport options. Tests call
 * {@code processes(n)} and the other options on it themselves, so it must not set those.
 */
@ExtendWith(NoLeakedProcessesExtension.class)
@Timeout(value = 5, unit = TimeUnit.MINUTES, threadMode = SEPARATE_THREAD)
public abstract class AbstractPoolContractTest extends AbstractContractTest {

  // ================================================================== threads

  /**
   * An application that closed its pool keeps none of procpool's threads ({@code mvn exec:java}
   * interrupts and waits for the threads an application left behind, 15 s, then warns): the pool's
   * own threads end with {@code close()}, and shared transport threads created for it end when idle.
   */
  @Test
  @Timeout(value = 120, threadMode = SEPARATE_THREAD)
  void aClosedPoolLeavesNoProcpoolThreadRunning() throws Exception {
    Set<Thread> before = Thread.getAllStackTraces().keySet();
    try (ProcessPool pool = newPool(2)) {
      assertEquals(List.of(2, 3), pool.map((Integer x) -> x + 1, List.of(1, 2)));
      AsyncResult<Integer> slow = pool.applyAsync(() -> 1);
      assertEquals(1, slow.get(60, TimeUnit.SECONDS));
    }
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(12);
    List<String> left;
    do {
      left = Thread.getAllStackTraces().keySet().stream()
          .filter(t -> !before.contains(t) && t.isAlive() && t.getName().startsWith("procpool-"))
          .map(Thread::getName).sorted().collect(Collectors.toList());
      if (left.isEmpty()) {
        return;
      }
      Thread.sleep(50); // polling a condition, not synchronizing
    } while (System.nanoTime() < deadline);
    fail("threads of the closed pool still run 12 s after close(): " + left);
  }

  // ================================================================== apply

  @Test
  @Timeout(value = 120, threadMode = SEPARATE_THREAD)
  void applyCallableReturnsItsValue() {
    try (ProcessPool pool = newPool(2)) {
      assertEquals("hello 42", pool.apply(() -> "hello " + 42));
      assertEquals(List.of(1, 2, 3), pool.apply(() -> List.of(1, 2, 3)));
    }
  }

  @Test
  @Timeout(value = 120, threadMode = SEPARATE_THREAD)
  void applyFunctionReturnsItsValue() {
    try (ProcessPool pool = newPool(2)) {
      assertEquals(42, pool.apply((Integer x) -> x + 1, 41));
      assertEquals("abcabc", pool.apply((String s) -> s.repeat(2), "abc"));
      assertEquals(Map.of("k", 7L), pool.apply((Map<String, Long> m) -> m, Map.of("k", 7L)));
    }
  }

  @Test
  @Timeout(value = 120, threadMode = SEPARATE_THREAD)
  void applyRunnableReturnsAfterTheTaskHasRun() {
    String file = tmp.resolve("ran").toString();
    try (ProcessPool pool = newPool(2)) {
      pool.apply(() -> {
        ContractTasks.touch(file);
      });
      assertTrue(Files.exists(Path.of(file)), "apply(runnable) returned before the task had run");
    }
  }

  @Test
  @Timeout(value = 120, threadMode = SEPARATE_THREAD)
  void nullArgumentAndNullResultRoundTrip() throws Exception {
    try (ProcessPool pool = newPool(2)) {
      assertEquals("got null", pool.apply((String s) -> s == null ? "got null" : "got " + s, null));
      assertNull(pool.apply(ContractTasks::identity, (Integer) null));
      assertNull(pool.apply(() -> null));
      assertNull(pool.applyAsync((String s) -> s, null).get(PATIENCE.toSeconds(), SECONDS));
    }
  }

  @Test
  @Timeout(value = 120, threadMode = SEPARATE_THREAD)
  void applyAsyncRunnableCompletesWithNull() throws Exception {
    String file = tmp.resolve("ran").toString();
    ConcurrentLinkedQueue<String> calls = new ConcurrentLinkedQueue<>();
    try (ProcessPool pool = newPool(2)) {
      SerializableRunnable touch = () -> ContractTasks.touch(file);
      AsyncResult<Void> result = pool.applyAsync(touch);
      result.toCompletableFuture().whenComplete((v, e) -> calls.add(e == null ? "callback " + v : "errorCallback " + e));
      assertNull(result.get(PATIENCE.toSeconds(), SECONDS));
      assertTrue(Files.exists(Path.of(file)));
      assertTrue(result.successful());
      awaitCondition("the callback", () -> !calls.isEmpty());
    }
    assertEquals(List.of("callback null"), new ArrayList<>(calls));
  }

  // ================================================================== parallelism

  @Test
  @Timeout(value = 180, threadMode = SEPARATE_THREAD)
  void applyAsyncRunsTasksInParallelOnAtMostProcessesWorkers() throws Exception {
    int processes = 3;
    long taskMillis = 200;
    int tasks = 10;
    try (ProcessPool pool = newPool(processes)) {
      warmUp(pool);
      long start = System.nanoTime();
      List<AsyncResult<long[]>> results = new ArrayList<>();
      for (int i = 0; i < tasks; i++) {
        results.add(pool.applyAsync(() -> ContractTasks.timedSleep(taskMillis)));
      }
      List<long[]> spans = new ArrayList<>();
      for (AsyncResult<long[]> result : results) {
        spans.add(result.get(PATIENCE.toSeconds(), SECONDS));
      }
      long elapsedMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
      int overlap = maxOverlap(spans, 30);
      System.out.printf("[%s] %d tasks of %d ms on %d workers: %d ms, at most %d at once%n",
          transport(), tasks, taskMillis, processes, elapsedMillis, overlap);

      assertTrue(elapsedMillis < tasks * taskMillis,
          "tasks did not run in parallel: " + elapsedMillis + " ms for " + tasks + " x " + taskMillis + " ms");
      assertTrue(overlap <= processes, overlap + " tasks ran at once on a pool of " + processes);
      Set<Long> pids = spans.stream().map(s -> s[0]).collect(Collectors.toSet());
      if (has(Capability.SEPARATE_PROCESSES)) {
        assertTrue(pids.size() <= processes, "tasks ran in more than " + processes + " processes: " + pids);
        assertFalse(pids.contains(parentPid()), "a task ran in the parent JVM");
      }
    }
  }

  // ================================================================== callbacks

  /** The seed's program 3: ten tasks {@code i -> i + 100} on five processes, with a callback. */
  @Test
  @Timeout(value = 120, threadMode = SEPARATE_THREAD)
  void callbacksRunOncePerTaskOffTheSubmittingThread() throws Exception {
    Thread submitter = Thread.currentThread();
    ConcurrentLinkedQueue<Integer> values = new ConcurrentLinkedQueue<>();
    ConcurrentLinkedQueue<Thread> callbackThreads = new ConcurrentLinkedQueue<>();
    ConcurrentLinkedQueue<Throwable> errors = new ConcurrentLinkedQueue<>();
    try (ProcessPool pool = newPool(5)) {
      List<AsyncResult<Integer>> results = new ArrayList<>();
      for (int i = 0; i < 10; i++) {
        int n = i;
        results.add(pool.applyAsync(
            () -> n + 100,
            v -> {
              callbackThreads.add(Thread.currentThread());
              values.add(v);
            },
            errors::add));
      }
      for (int i = 0; i < 10; i++) {
        assertEquals(i + 100, results.get(i).get(PATIENCE.toSeconds(), SECONDS));
      }
      awaitCondition("10 callbacks", () -> values.size() >= 10);
    }
    assertEquals(range(100, 110), sorted(values), "each callback must run exactly once");
    assertEquals(List.of(), new ArrayList<>(errors));
    assertFalse(callbackThreads.contains(submitter), "a callback ran on the submitting thread");
  }

  @Test
  @Timeout(value = 120, threadMode = SEPARATE_THREAD)
  void errorCallbackReceivesTheFailureOnce() throws Exception {
    Thread submitter = Thread.currentThread();
    ConcurrentLinkedQueue<Object> values = new ConcurrentLinkedQueue<>();
    ConcurrentLinkedQueue<Throwable> errors = new ConcurrentLinkedQueue<>();
    ConcurrentLinkedQueue<Thread> callbackThreads = new ConcurrentLinkedQueue<>();
    try (ProcessPool pool = newPool(2)) {
      // Typed first: with a method-call body, the lambda would fit the Runnable overload as well.
      SerializableCallable<Object> failing = () -> ContractTasks.fail("error callback");
      AsyncResult<Object> result = pool.applyAsync(
          failing,
          values::add,
          e -> {
            callbackThreads.add(Thread.currentThread());
            errors.add(e);
          });
      Throwable cause = failureOf(result);
      assertInstanceOf(ContractFailure.class, cause);
      awaitCondition("the error callback", () -> !errors.isEmpty());
    }
    assertEquals(1, errors.size(), "error callback calls: " + errors);
    assertTrue(errors.size() == 1 && findInChain(errors.peek(), ContractFailure.class, "error callback"),
        "the error callback did not receive the task's ContractFailure: " + errors.peek());
    assertEquals(List.of(), new ArrayList<>(values), "the success callback ran for a failed task");
    assertFalse(callbackThreads.contains(submitter), "the error callback ran on the submitting thread");
  }

  @Test
  @Timeout(value = 120, threadMode = SEPARATE_THREAD)
  void throwingCallbackDoesNotStopLaterCallbacksOrThePool() throws Exception {
    ConcurrentLinkedQueue<Integer> seen = new ConcurrentLinkedQueue<>();
    try (ProcessPool pool = newPool(2)) {
      List<AsyncResult<Integer>> results = new ArrayList<>();
      for (int i = 0; i < 10; i++) {
        results.add(pool.applyAsync(
            ContractTasks::identity,
            i,
            v -> {
              seen.add(v);
              throw new IllegalStateException("contract test: callback throws on purpose (" + v + ")");
            },
            null));
      }
      for (int i = 0; i < 10; i++) {
        assertEquals(i, results.get(i).get(PATIENCE.toSeconds(), SECONDS));
      }
      awaitCondition("10 callbacks", () -> seen.size() >= 10);
      assertEquals(range(0, 10), sorted(seen));

      // The pool and its callback thread still work.
      assertEquals(5, echo(pool, 5));
      ConcurrentLinkedQueue<Integer> later = new ConcurrentLinkedQueue<>();
      pool.applyAsync(ContractTasks::identity, 99, later::add, null);
      awaitCondition("a callback after the throwing ones", () -> !later.isEmpty());
      assertEquals(List.of(99), new ArrayList<>(later));
    }
  }

  // ================================================================== AsyncResult

  @Test
  @Timeout(value = 120, threadMode = SEPARATE_THREAD)
  void getWithTimeoutThrowsTimeoutExceptionWhileTheTaskRuns() throws Exception {
    try (ProcessPool pool = newPool(1)) {
      ControlledTask task = new ControlledTask("slow");
      AsyncResult<Long> result = task.submit(pool);
      task.awaitStarted();
      assertThrows(TimeoutException.class, () -> result.get(50, TimeUnit.MILLISECONDS));
      assertFalse(result.ready(), "get(timeout) must leave the task running");
      task.release();
      assertEquals(task.pid(), result.get(PATIENCE.toSeconds(), SECONDS));
    }
  }

  @Test
  @Timeout(value = 120, threadMode = SEPARATE_THREAD)
  void waitForAndReadyAndSuccessfulFollowTheTask() throws Exception {
    try (ProcessPool pool = newPool(1)) {
      ControlledTask task = new ControlledTask("slow");
      AsyncResult<Long> result = task.submit(pool);
      task.awaitStarted();
      assertFalse(result.waitFor(Duration.ofMillis(100)));
      assertFalse(result.ready());
      assertFalse(result.isDone());
      assertThrows(IllegalStateException.class, result::successful);

      task.release();
      assertTrue(result.waitFor(PATIENCE));
      assertTrue(result.ready());
      assertTrue(result.isDone());
      assertFalse(result.isCancelled());
      assertTrue(result.successful());
      assertEquals(task.pid(), result.get());
    }
  }

  @Test
  @Timeout(value = 120, threadMode = SEPARATE_THREAD)
  void failedTaskIsReadyButNotSuccessfulAndGetThrowsItsRebuiltException() throws Exception {
    try (ProcessPool pool = newPool(2)) {
      AsyncResult<Object> result = pool.applyAsync(() -> ContractTasks.fail("kaboom"));
      assertTrue(result.waitFor(PATIENCE));
      assertTrue(result.ready());
      assertFalse(result.successful());
      assertFalse(result.isCancelled());
      ExecutionException e = assertThrows(ExecutionException.class, result::get);
      assertInstanceOf(ContractFailure.class, e.getCause());
      assertEquals("kaboom", e.getCause().getMessage());
      ExecutionException again = assertThrows(ExecutionException.class, () -> result.get(1, SECONDS));
      assertInstanceOf(ContractFailure.class, again.getCause());
    }
  }

  @Test
  @Timeout(value = 120, threadMode = SEPARATE_THREAD)
  void toCompletableFutureCompletesWithTheValueOffTheCallerThread() throws Exception {
    Thread submitter = Thread.currentThread();
    try (ProcessPool pool = newPool(1)) {
      ControlledTask task = new ControlledTask("cf");
      AsyncResult<Long> result = task.submit(pool);
      CompletableFuture<Long> future = result.toCompletableFuture();
      CompletableFuture<Thread> stageThread = future.thenApply(v -> Thread.currentThread());
      task.awaitStarted();
      assertFalse(future.isDone());
      task.release();
      assertEquals(task.pid(), future.get(PATIENCE.toSeconds(), SECONDS));
      // CompletableFuture lets a thread waiting in get() run dependents itself; otherwise they run
      // on the pool's own threads that complete views (not the callback thread, so that a callback
      // may wait for a view), and never on a transport's I/O thread.
      Thread ran = stageThread.get(PATIENCE.toSeconds(), SECONDS);
      assertTrue(ran == submitter || ran.getName().matches("procpool-\\d+-(callbacks|futures-\\d+)"),
          "a dependent stage ran on " + ran.getName() + ", expected a pool thread that completes views");
      Thread async = future.thenApplyAsync(v -> Thread.currentThread()).get(PATIENCE.toSeconds(), SECONDS);
      assertTrue(async.getName().matches("procpool-\\d+-futures-\\d+"),
          "an async stage without executor ran on " + async.getName() + ", expected a view thread of the pool");
    }
  }

  @Test
  @Timeout(value = 120, threadMode = SEPARATE_THREAD)
  void completingTheCompletableFutureViewDoesNotAffectTheTask() throws Exception {
    try (ProcessPool pool = newPool(1)) {
      ControlledTask task = new ControlledTask("cf");
      AsyncResult<Long> result = task.submit(pool);
      task.awaitStarted();
      result.toCompletableFuture().cancel(true);
      result.toCompletableFuture().complete(-1L);
      assertFalse(result.isCancelled());
      assertFalse(result.ready());
      task.release();
      assertEquals(task.pid(), result.get(PATIENCE.toSeconds(), SECONDS));
    }
  }

  // ================================================================== task failures

  @Test
  @Timeout(value = 120, threadMode = SEPARATE_THREAD)
  void applyOfAThrowingTaskThrowsTaskFailedExceptionWithTheRebuiltCause() {
    try (ProcessPool pool = newPool(2)) {
      TaskFailedException e =
          assertThrows(TaskFailedException.class, () -> pool.apply(() -> ContractTasks.fail("kaboom")));
      assertInstanceOf(ContractFailure.class, e.getCause());
      assertEquals("kaboom", e.getCause().getMessage());

      TaskFailedException e2 = assertThrows(TaskFailedException.class,
          () -> pool.apply((Integer x) -> ContractTasks.fail("arg " + x), 7));
      assertInstanceOf(ContractFailure.class, e2.getCause());
      assertEquals("arg 7", e2.getCause().getMessage());

      TaskFailedException e3 = assertThrows(TaskFailedException.class, () -> pool.apply(() -> {
        throw new IllegalArgumentException("from a runnable");
      }));
      assertInstanceOf(IllegalArgumentException.class, e3.getCause());
      assertEquals("from a runnable", e3.getCause().getMessage());

      assertEquals(1, echo(pool, 1), "the pool must survive task failures");
    }
  }

  @Test
  @Timeout(value = 120, threadMode = SEPARATE_THREAD)
  void nonSerializableExceptionComesBackAsRemoteException() {
    try (ProcessPool pool = newPool(2)) {
      TaskFailedException e = assertThrows(TaskFailedException.class,
          () -> pool.apply(() -> ContractTasks.failNotSerializable("cannot travel")));
      RemoteException remote = assertInstanceOf(RemoteException.class, e.getCause());
      assertEquals(NotSerializableFailure.class.getName(), remote.remoteClassName());
      assertEquals("cannot travel", remote.remoteMessage());
      assertTrue(
          Arrays.stream(remote.getStackTrace()).anyMatch(
              f -> f.getClassName().equals(ContractTasks.class.getName())
                  && f.getMethodName().equals("failNotSerializable")),
          "the RemoteException must carry the remote stack trace: " + Arrays.toString(remote.getStackTrace()));
      assertEquals(1, echo(pool, 1), "the pool must survive");
    }
  }

  // ================================================================== map

  @Test
  @Timeout(value = 120, threadMode = SEPARATE_THREAD)
  void mapReturnsResultsInInputOrderWithTheDefaultChunksize() {
    List<Integer> items = range(0, 1000);
    try (ProcessPool pool = newPool(3)) {
      assertEquals(squares(items), pool.map((Integer x) -> x * x, items));
    }
  }

  @Test
  @Timeout(value = 120, threadMode = SEPARATE_THREAD)
  void mapReturnsResultsInInputOrderWithExplicitChunksizes() {
    List<Integer> items = range(0, 1000);
    try (ProcessPool pool = newPool(3)) {
      assertEquals(squares(items), pool.map((Integer x) -> x * x, items, 1));
      assertEquals(squares(items), pool.map((Integer x) -> x * x, items, 7));
      assertEquals(squares(items), pool.map((Integer x) -> x * x, items, 5000), "one chunk bigger than the input");
    }
  }

  @Test
  @Timeout(value = 120, threadMode = SEPARATE_THREAD)
  void mapOfAnEmptyInputIsAnEmptyList() throws Exception {
    try (ProcessPool pool = newPool(2)) {
      assertEquals(List.of(), pool.map((Integer x) -> x * x, List.of()));
      assertEquals(List.of(), pool.map((Integer x) -> x * x, List.of(), 3));
      assertEquals(List.of(), pool.mapAsync((Integer x) -> x * x, List.<Integer>of()).get(PATIENCE.toSeconds(), SECONDS));
    }
  }

  /** The first failure in input order wins, even when a later item fails sooner. */
  @Test
  @Timeout(value = 120, threadMode = SEPARATE_THREAD)
  void mapWithFailingItemsThrowsTaskFailedExceptionForTheFirstInInputOrder() {
    List<Integer> items = range(0, 100);
    SerializableFailAt fn = x -> {
      if (x == 37) {
        Thread.sleep(300); // a later failure (80) likely arrives first
        return ContractTasks.fail("item 37");
      }
      return x == 80 ? ContractTasks.fail("item 80") : x;
    };
    try (ProcessPool pool = newPool(2)) {
      TaskFailedException e = assertThrows(TaskFailedException.class, () -> pool.map(fn, items));
      assertInstanceOf(ContractFailure.class, e.getCause());
      assertEquals("item 37", e.getCause().getMessage());
      TaskFailedException e1 = assertThrows(TaskFailedException.class, () -> pool.map(fn, items, 1));
      assertEquals("item 37", e1.getCause().getMessage());
      assertEquals(List.of(1, 2), pool.map(fn, List.of(1, 2)), "the pool must survive");
    }
  }

  // ------------------------------------------------------------------ map: chunks of one boxed type

  /**
   * Chunks whose items all are Integers, Longs, Doubles or Strings may travel in a compact encoding:
   * values (extremes, -0.0, NaN, non-ASCII and empty strings), order and types come back exactly.
   */
  @Test
  @Timeout(value = 120, threadMode = SEPARATE_THREAD)
  void mapKeepsValuesOrderAndTypesOfChunksOfOneBoxedType() {
    List<Integer> ints = new ArrayList<>(range(-500, 500));
    ints.addAll(List.of(Integer.MIN_VALUE, Integer.MAX_VALUE));
    List<Long> longs = new ArrayList<>();
    List<Double> doubles = new ArrayList<>();
    List<String> strings = new ArrayList<>();
    for (int i : ints) {
      longs.add((long) i * 5_000_000_000L);
      doubles.add(i / 7.0);
      strings.add(i % 3 == 0 ? "" : "é€𝄞 " + i);
    }
    longs.addAll(List.of(Long.MIN_VALUE, Long.MAX_VALUE));
    doubles.addAll(List.of(-0.0, Double.NaN, Double.NEGATIVE_INFINITY, Double.MIN_VALUE));
    try (ProcessPool pool = newPool(2)) {
      for (int chunksize : new int[] {0, 1, 7, 5000}) {
        String at = "chunksize " + chunksize;
        assertEquals(ints, map(pool, (Integer x) -> x, ints, chunksize), at);
        assertEquals(longs, map(pool, (Long x) -> x, longs, chunksize), at);
        assertEquals(doubles, map(pool, (Double x) -> x, doubles, chunksize), at);
        assertEquals(strings, map(pool, (String x) -> x, strings, chunksize), at);
        assertEquals(ints.stream().map(x -> (long) x + 1).collect(Collectors.toList()),
            map(pool, (Integer x) -> (long) x + 1, ints, chunksize), "Integer to Long, " + at);
        assertEquals(longs.stream().map(String::valueOf).collect(Collectors.toList()),
            map(pool, (Long x) -> String.valueOf(x), longs, chunksize), "Long to String, " + at);
        assertEquals(strings.stream().map(String::length).collect(Collectors.toList()),
            map(pool, (String x) -> x.length(), strings, chunksize), "String to Integer, " + at);
      }
    }
  }

  /** Nulls, mixed item types and results of mixed types (changing in the middle of a chunk) keep their values. */
  @Test
  @Timeout(value = 120, threadMode = SEPARATE_THREAD)
  void mapKeepsNullsAndMixedTypesOfItemsAndResults() {
    List<Integer> withNulls = new ArrayList<>(range(0, 300));
    withNulls.set(0, null);
    withNulls.set(150, null);
    withNulls.set(299, null);
    List<Object> mixed = new ArrayList<>();
    for (int i = 0; i < 300; i++) {
      mixed.add(i % 4 == 0 ? (Object) i : i % 4 == 1 ? (Object) (long) i : i % 4 == 2 ? "s" + i : (Object) (double) i);
    }
    List<Integer> items = range(0, 300);
    try (ProcessPool pool = newPool(2)) {
      for (int chunksize : new int[] {0, 1, 300}) {
        String at = "chunksize " + chunksize;
        assertEquals(withNulls, map(pool, (Integer x) -> x, withNulls, chunksize), "Integers with nulls, " + at);
        assertEquals(mixed, map(pool, (Object x) -> x, mixed, chunksize), "mixed items, " + at);
        assertEquals(Collections.nCopies(300, null), map(pool, (Integer x) -> null, items, chunksize),
            "a function that returns null, " + at);
        List<Object> expected = new ArrayList<>();
        for (int x : items) {
          expected.add(x < 200 ? (Object) x : x % 2 == 0 ? "s" + x : x == 201 ? null : (Object) (long) x);
        }
        assertEquals(expected, map(pool, (Integer x) -> x < 200 ? (Object) x : x % 2 == 0 ? "s" + x
            : x == 201 ? null : (Object) (long) x, items, chunksize), "results turning mixed after 200, " + at);
        assertEquals(List.of(1, 2L, "3", 4), map(pool, (Integer x) -> x == 2 ? (Object) 2L : x == 3 ? "3" : x,
            List.of(1, 2, 3, 4), chunksize), "a short mixed chunk, " + at);
      }
    }
  }

  /**
   * An item that fails in the middle of a chunk of one boxed type: map fails with that item's error,
   * imap yields every result before it, then the error.
   */
  @Test
  @Timeout(value = 120, threadMode = SEPARATE_THREAD)
  void aFailingItemInTheMiddleOfAChunkOfOneBoxedTypeFailsAsAnyOther() {
    List<Integer> items = range(0, 1000);
    List<Long> longs = items.stream().map(Long::valueOf).collect(Collectors.toList());
    try (ProcessPool pool = newPool(2)) {
      TaskFailedException e = assertThrows(TaskFailedException.class,
          () -> pool.map((Integer x) -> x == 500 ? ContractTasks.<Integer>fail("item 500") : x, items, 1000));
      assertInstanceOf(ContractFailure.class, e.getCause());
      assertEquals("item 500", e.getCause().getMessage());
      Iterator<String> it = pool.imap((Long x) -> x == 500L ? ContractTasks.<String>fail("item 500") : "v" + x,
          longs, 1000);
      for (int i = 0; i < 500; i++) {
        assertTrue(it.hasNext(), "result " + i + " before the failing item");
        assertEquals("v" + i, it.next());
      }
      assertThrows(TaskFailedException.class, () -> {
        it.hasNext();
        it.next();
      }, "then the failure of item 500");
      assertEquals(List.of(1, 2), pool.map((Integer x) -> x, List.of(1, 2)), "the pool must survive");
    }
  }

  /** Strings that do not fit one frame together are split into chunks that do, as items and as results. */
  @Test
  @Timeout(value = 120, threadMode = SEPARATE_THREAD)
  void mapOfLargeStringsSplitsChunksToFitTheFrame() {
    int frame = 1 << 20;
    List<String> items = new ArrayList<>();
    for (int i = 0; i < 24; i++) { // the default chunksize is 3: 1.2 MB
      char[] c = new char[400_000];
      Arrays.fill(c, (char) ('a' + i));
      items.add(new String(c));
    }
    try (ProcessPool pool = builder().processes(2).maxFrameSize(frame).build()) {
      assertEquals(items, pool.map((String x) -> x, items), "default chunksize: 3 items of 400 kB, over 1 MiB");
      assertEquals(items.stream().map(String::length).collect(Collectors.toList()),
          pool.map((String x) -> x.length(), items));
      TaskSerializationException e = assertThrows(TaskSerializationException.class,
          () -> pool.map((String x) -> x, items, 3), "an explicit chunksize is not split");
      assertTrue(e.getMessage().contains("over maxFrameSize"), e.getMessage());
    }
  }

  private static <T, R> List<R> map(ProcessPool pool, io.procpool.api.SerializableFunction<T, R> fn, List<? extends T> items,
      int chunksize) {
    return chunksize == 0 ? pool.map(fn, items) : pool.map(fn, items, chunksize);
  }

  @Test
  @Timeout(value = 120, threadMode = SEPARATE_THREAD)
  void mapAsyncDeliversTheListToItsCallbackOnce() throws Exception {
    Thread submitter = Thread.currentThread();
    List<Integer> items = range(0, 100);
    ConcurrentLinkedQueue<List<Integer>> lists = new ConcurrentLinkedQueue<>();
    ConcurrentLinkedQueue<Thread> threads = new ConcurrentLinkedQueue<>();
    ConcurrentLinkedQueue<Throwable> errors = new ConcurrentLinkedQueue<>();
    try (ProcessPool pool = newPool(2)) {
      assertEquals(squares(items),
          pool.mapAsync((Integer x) -> x * x, items).get(PATIENCE.toSeconds(), SECONDS));
      assertEquals(squares(items),
          pool.mapAsync((Integer x) -> x * x, items, 7).get(PATIENCE.toSeconds(), SECONDS));

      AsyncResult<List<Integer>> result = pool.mapAsync(
          (Integer x) -> x * x,
          items,
          3,
          list -> {
            threads.add(Thread.currentThread());
            lists.add(list);
          },
          errors::add);
      assertEquals(squares(items), result.get(PATIENCE.toSeconds(), SECONDS));
      awaitCondition("the mapAsync callback", () -> !lists.isEmpty());
    }
    assertEquals(1, lists.size());
    assertEquals(squares(items), lists.peek());
    assertEquals(List.of(), new ArrayList<>(errors));
    assertFalse(threads.contains(submitter), "the callback ran on the submitting thread");
  }

  @Test
  @Timeout(value = 120, threadMode = SEPARATE_THREAD)
  void mapAsyncWithAFailingItemFailsOnceWithTheTaskException() throws Exception {
    ConcurrentLinkedQueue<List<Integer>> lists = new ConcurrentLinkedQueue<>();
    ConcurrentLinkedQueue<Throwable> errors = new ConcurrentLinkedQueue<>();
    try (ProcessPool pool = newPool(2)) {
      AsyncResult<List<Integer>> result = pool.mapAsync(
          (Integer x) -> x == 13 ? ContractTasks.<Integer>fail("item 13") : x,
          range(0, 50),
          4,
          lists::add,
          errors::add);
      Throwable cause = failureOf(result);
      assertInstanceOf(ContractFailure.class, cause);
      assertEquals("item 13", cause.getMessage());
      assertFalse(result.successful());
      awaitCondition("the mapAsync error callback", () -> !errors.isEmpty());
    }
    assertEquals(1, errors.size());
    assertTrue(findInChain(errors.peek(), ContractFailure.class, "item 13"), "error callback got " + errors.peek());
    assertEquals(List.of(), new ArrayList<>(lists));
  }

  // ================================================================== imap

  @Test
  @Timeout(value = 120, threadMode = SEPARATE_THREAD)
  void imapOverAnInfiniteInputYieldsTheFirstResultsInOrder() {
    Iterable<Integer> naturals = () -> Stream.iterate(0, i -> i + 1).iterator();
    try (ProcessPool pool = newPool(2)) {
      Iterator<Integer> results = pool.imap((Integer x) -> x * 2, naturals);
      List<Integer> first = new ArrayList<>();
      for (int i = 0; i < 50; i++) {
        assertTrue(results.hasNext());
        first.add(results.next());
      }
      assertEquals(range(0, 50).stream().map(x -> x * 2).collect(Collectors.toList()), first);
    } // close() must return although the input is infinite: only submitted tasks finish
  }

  /**
   * imap pulls input only a bounded window ahead of the consumer. After 10 results the test gives an
   * eager implementation half a second to run ahead (an observation window, not synchronization).
   */
  @Test
  @Timeout(value = 120, threadMode = SEPARATE_THREAD)
  void imapConsumesItsInputLazily() {
    int size = 1_000_000;
    int window = 10_000;
    AtomicInteger consumed = new AtomicInteger();
    Iterable<Integer> counting = () -> new Iterator<>() {
      @Override
      public boolean hasNext() {
        return consumed.get() < size;
      }

      @Override
      public Integer next() {
        int next = consumed.getAndIncrement();
        if (next >= size) {
          throw new NoSuchElementException();
        }
        return next;
      }
    };
    try (ProcessPool pool = newPool(2)) {
      Iterator<Integer> results = pool.imap(ContractTasks::identity, counting);
      for (int i = 0; i < 10; i++) {
        assertEquals(i, results.next());
      }
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(500));
      int afterTen = consumed.get();
      System.out.printf("[%s] imap consumed %d items to yield 10%n", transport(), afterTen);
      assertTrue(afterTen >= 10);
      assertTrue(afterTen <= 10 + window, "imap consumed " + afterTen + " input items to yield 10 results");
      for (int i = 10; i < 20; i++) {
        assertEquals(i, results.next());
      }
    }
    assertTrue(consumed.get() < size, "closing the pool consumed the whole input");
  }

  @Test
  @Timeout(value = 120, threadMode = SEPARATE_THREAD)
  void imapThrowsAFailedItemsExceptionAtItsPosition() {
    try (ProcessPool pool = newPool(2)) {
      for (int chunksize : new int[] {1, 3}) {
        Iterator<Integer> results =
            pool.imap((Integer x) -> x == 7 ? ContractTasks.<Integer>fail("item 7") : x, range(0, 20), chunksize);
        // A failing chunk may fail as a whole: the failure comes at item 7 or at the start of its chunk.
        int chunkStart = 7 / chunksize * chunksize;
        int position = 0;
        TaskFailedException failure = null;
        while (failure == null && position <= 7) {
          try {
            assertEquals(position, results.next(), "chunksize " + chunksize);
            position++;
          } catch (TaskFailedException e) {
            failure = e;
          }
        }
        assertNotNull(failure, "no TaskFailedException up to the failing item, chunksize " + chunksize);
        assertTrue(position >= chunkStart && position <= 7,
            "the failure came at position " + position + ", chunksize " + chunksize);
        assertInstanceOf(ContractFailure.class, failure.getCause());
        assertEquals("item 7", failure.getCause().getMessage());
        // Every later position has its own outcome: the rest of the failed chunk never ran and fails
        // too, then the values go on at their positions.
        position++;
        int chunkEnd = Math.min(20, chunkStart + chunksize);
        for (; position < chunkEnd; position++) {
          int at = position;
          TaskFailedException notRun = assertThrows(TaskFailedException.class, results::next,
              () -> "position " + at + " of the failed chunk, chunksize " + chunksize);
          assertEquals("item 7", notRun.getCause().getMessage());
        }
        for (; position < 20; position++) {
          assertEquals(position, results.next(), "chunksize " + chunksize);
        }
        assertFalse(results.hasNext(), "more outcomes than items, chunksize " + chunksize);
      }
    }
  }

  @Test
  @Timeout(value = 120, threadMode = SEPARATE_THREAD)
  void imapUnorderedGivesEveryItemOneOutcomeWhenAChunkFails() {
    try (ProcessPool pool = newPool(2)) {
      // Chunk 4..7: 4, 5 and 6 ran, 7 (its last item) threw: one failure.
      assertOneOutcomePerItem(pool, 7, 1);
      // Chunk 4..7: 4 ran, 5 threw, 6 and 7 never ran: three failures, one per item.
      assertOneOutcomePerItem(pool, 5, 3);
    }
  }

  /** imapUnordered over 0..19 in chunks of 4, item {@code failing} throwing: each value once, then the failures. */
  private static void assertOneOutcomePerItem(ProcessPool pool, int failing, int expectedFailures) {
    String message = "item " + failing;
    Iterator<Integer> results =
        pool.imapUnordered((Integer x) -> x == failing ? ContractTasks.<Integer>fail(message) : x, range(0, 20), 4);
    Set<Integer> values = new HashSet<>();
    int failures = 0;
    while (results.hasNext()) {
      try {
        assertTrue(values.add(results.next()), "a value came twice");
      } catch (TaskFailedException e) {
        assertEquals(message, e.getCause().getMessage());
        failures++;
      }
    }
    assertEquals(expectedFailures, failures, "failures");
    assertEquals(20 - expectedFailures, values.size(), "values");
  }


  @Test
  @Timeout(value = 120, threadMode = SEPARATE_THREAD)
  void imapYieldsResultsInInputOrderWithEveryChunksize() {
    List<Integer> items = range(0, 300);
    try (ProcessPool pool = newPool(3)) {
      assertEquals(squares(items), drain(pool.imap((Integer x) -> x * x, items)));
      assertEquals(squares(items), drain(pool.imap((Integer x) -> x * x, items, 1)));
      assertEquals(squares(items), drain(pool.imap((Integer x) -> x * x, items, 7)));
      // Items finishing out of order (early ones slower) still come back in order.
      assertEquals(range(0, 12), drain(pool.imap((Integer x) -> ContractTasks.sleepThenReturn((12 - x) * 20L, x), range(0, 12))));
      assertFalse(pool.imap((Integer x) -> x, List.<Integer>of()).hasNext());
    }
  }

  @Test
  @Timeout(value = 120, threadMode = SEPARATE_THREAD)
  void imapUnorderedYieldsEveryResultOnce() {
    List<Integer> items = range(0, 300);
    try (ProcessPool pool = newPool(3)) {
      assertEquals(squares(items), sorted(drain(pool.imapUnordered((Integer x) -> x * x, items))));
      assertEquals(squares(items), sorted(drain(pool.imapUnordered((Integer x) -> x * x, items, 1))));
      assertEquals(squares(items), sorted(drain(pool.imapUnordered((Integer x) -> x * x, items, 7))));
      assertFalse(pool.imapUnordered((Integer x) -> x, List.<Integer>of()).hasNext());
      Iterator<Integer> failing =
          pool.imapUnordered((Integer x) -> x == 5 ? ContractTasks.<Integer>fail("item 5") : x, range(0, 10));
      TaskFailedException e = assertThrows(TaskFailedException.class, () -> drain(failing));
      assertEquals("item 5", e.getCause().getMessage());
    }
  }

  // ================================================================== serialization failures

  @Test
  @Timeout(value = 120, threadMode = SEPARATE_THREAD)
  void unserializableTaskIsRejectedAtSubmitAndNothingElseBreaks() throws Exception {
    Object notSerializable = new Object();
    try (ProcessPool pool = newPool(2)) {
      AsyncResult<Integer> before = pool.applyAsync(() -> ContractTasks.sleepThenReturn(200, 1));
      assertThrows(TaskSerializationException.class, () -> pool.applyAsync(() -> notSerializable.hashCode()));
      assertThrows(TaskSerializationException.class, () -> pool.apply(() -> notSerializable.hashCode()));
      assertThrows(TaskSerializationException.class,
          () -> pool.map((Integer x) -> x + notSerializable.hashCode(), List.of(1, 2)));
      assertEquals(1, before.get(PATIENCE.toSeconds(), SECONDS));
      assertEquals(7, echo(pool, 7));
    }
  }

  @Test
  @Timeout(value = 120, threadMode = SEPARATE_THREAD)
  void unserializableArgumentIsRejectedAtSubmit() {
    try (ProcessPool pool = newPool(2)) {
      assertThrows(TaskSerializationException.class, () -> pool.applyAsync((Object o) -> o.hashCode(), new Object()));
      assertThrows(TaskSerializationException.class, () -> pool.apply((Object o) -> o.hashCode(), new Object()));
      assertEquals(7, echo(pool, 7));
    }
  }

  @Test
  @Timeout(value = 120, threadMode = SEPARATE_THREAD)
  void unserializableResultFailsOnlyThatTaskAndTheWorkerLivesOn() {
    try (ProcessPool pool = newPool(1)) {
      long pidBefore = pool.apply(ContractTasks::pid);
      Throwable cause = failureOf(pool.applyAsync(ContractTasks::notSerializableResult));
      assertInstanceOf(TaskSerializationException.class, cause);
      assertThrows(TaskSerializationException.class, () -> pool.apply(ContractTasks::notSerializableResult));
      assertEquals(pidBefore, pool.apply(ContractTasks::pid), "the worker must not be replaced");
      assertEquals(7, echo(pool, 7));
    }
  }

  // ================================================================== close, join, terminate

  @Test
  @Timeout(value = 120, threadMode = SEPARATE_THREAD)
  void closeLetsSubmittedTasksFinishThenRejectsNewOnes() throws Exception {
    ProcessPool pool = newPool(2);
    try {
      List<Long> pids = workerPidsWhenAllStarted(pool);
      List<AsyncResult<Integer>> results = new ArrayList<>();
      for (int i = 0; i < 6; i++) {
        results.add(pool.applyAsync((Integer x) -> ContractTasks.sleepThenReturn(300, x), i));
      }
      pool.close();
      for (int i = 0; i < 6; i++) {
        AsyncResult<Integer> result = results.get(i);
        assertTrue(result.ready(), "close() returned before task " + i + " finished");
        assertEquals(i, result.get(0, SECONDS));
      }
      if (has(Capability.SEPARATE_PROCESSES)) {
        for (long pid : pids) {
          awaitCondition("worker " + pid + " to exit after close()", Duration.ofSeconds(2),
              () -> !ProcessSupport.isRunning(pid));
        }
      }
      assertEquals(List.of(), pool.workerPids(), "live workers after close()");
      assertThrows(PoolClosedException.class, () -> pool.apply(ContractTasks::pid));
      assertThrows(PoolClosedException.class, () -> pool.applyAsync(ContractTasks::pid));
      assertThrows(PoolClosedException.class, () -> pool.map((Integer x) -> x, List.of(1)));
      pool.join();
      pool.close(); // idempotent
      pool.join();
    } finally {
      pool.terminate();
    }
  }

  @Test
  @Timeout(value = 120, threadMode = SEPARATE_THREAD)
  void joinBeforeCloseOrTerminateThrowsIllegalStateException() {
    try (ProcessPool pool = newPool(1)) {
      assertThrows(IllegalStateException.class, pool::join);
      assertEquals(3, echo(pool, 3), "the failed join must not harm the pool");
    }
  }

  @Test
  @Timeout(value = 120, threadMode = SEPARATE_THREAD)
  void terminateKillsRunningTasksAndFailsEveryUnfinishedResult() throws Exception {
    ProcessPool pool = newPool(2);
    try {
      ControlledTask first = new ControlledTask("first");
      ControlledTask second = new ControlledTask("second");
      List<AsyncResult<?>> unfinished = new ArrayList<>();
      unfinished.add(first.submit(pool));
      first.awaitStarted();
      unfinished.add(second.submit(pool));
      second.awaitStarted();
      for (int i = 0; i < 3; i++) {
        unfinished.add(pool.applyAsync((Integer x) -> ContractTasks.sleepThenReturn(LONG_TASK_MILLIS, x), i));
      }

      long start = System.nanoTime();
      pool.terminate();
      long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
      System.out.printf("[%s] terminate() took %d ms%n", transport(), millis);
      assertTrue(millis < 10_000, "terminate() took " + millis + " ms");

      for (AsyncResult<?> result : unfinished) {
        assertInstanceOf(PoolTerminatedException.class, failureOf(result, Duration.ofSeconds(5)));
        assertTrue(result.ready());
        assertFalse(result.successful());
      }
      if (has(Capability.SEPARATE_PROCESSES)) {
        assertFalse(ProcessSupport.isRunning(first.pid()), "worker alive after terminate()");
        assertFalse(ProcessSupport.isRunning(second.pid()), "worker alive after terminate()");
      }
      assertThrows(PoolClosedException.class, () -> pool.applyAsync(ContractTasks::pid));
      pool.join();
      pool.terminate(); // idempotent
      pool.close();
    } finally {
      pool.terminate();
    }
  }

  // ================================================================== initializer

  @Test
  @Timeout(value = 180, threadMode = SEPARATE_THREAD)
  void initializerRunsOncePerWorkerBeforeItsFirstTask() {
    String token = UUID.randomUUID().toString();
    int processes = 2;
    try (ProcessPool pool = builder().processes(processes).initializer(() -> ContractTasks.initialize(token)).build()) {
      List<long[]> probes = pool.map((Integer i) -> ContractTasks.initProbe(token), range(0, 20), 1);
      for (long[] probe : probes) {
        if (has(Capability.SEPARATE_PROCESSES)) {
          assertEquals(1, probe[1], "initializer runs in worker " + probe[0]);
        } else {
          assertTrue(probe[1] >= 1 && probe[1] <= processes, "initializer runs: " + probe[1]);
        }
      }
    }
    // Replacement workers run it too.
    String token2 = UUID.randomUUID().toString();
    try (ProcessPool pool =
        builder().processes(1).maxTasksPerChild(1).initializer(() -> ContractTasks.initialize(token2)).build()) {
      for (int i = 0; i < 3; i++) {
        long[] probe = pool.apply(() -> ContractTasks.initProbe(token2));
        if (has(Capability.SEPARATE_PROCESSES)) {
          assertEquals(1, probe[1], "initializer runs in replacement worker " + probe[0]);
        } else {
          assertTrue(probe[1] >= i + 1, "initializer runs: " + probe[1] + " after " + i + " replacements");
        }
      }
    }
  }

  @Test
  @Timeout(value = 120, threadMode = SEPARATE_THREAD)
  void failingInitializerFailsBuildWithWorkerStartException() {
    String message = "initializer fails " + UUID.randomUUID();
    WorkerStartException e = assertThrows(WorkerStartException.class, () -> {
      ProcessPool pool = builder().processes(2).initializer(() -> ContractTasks.fail(message)).build();
      pool.terminate(); // not reached if build() is right
    });
    assertTrue(findInChain(e, Throwable.class, message),
        "the initializer's exception is not in the cause chain of " + describeChain(e));
    // NoLeakedProcessesExtension checks that no worker is left.
  }

  // ================================================================== maxTasksPerChild

  @Test
  @Timeout(value = 180, threadMode = SEPARATE_THREAD)
  void maxTasksPerChildRetiresAndReplacesWorkers() throws Exception {
    try (ProcessPool pool = builder().processes(1).maxTasksPerChild(2).build()) {
      List<AsyncResult<Long>> results = new ArrayList<>();
      for (int i = 0; i < 10; i++) {
        results.add(pool.applyAsync(ContractTasks::pid));
      }
      List<Long> pids = new ArrayList<>();
      for (AsyncResult<Long> result : results) {
        pids.add(result.get(PATIENCE.toSeconds(), SECONDS));
      }
      assertEquals(10, pids.size());
      if (has(Capability.SEPARATE_PROCESSES)) {
        Map<Long, Integer> tasksPerPid = new HashMap<>();
        pids.forEach(pid -> tasksPerPid.merge(pid, 1, Integer::sum));
        assertTrue(tasksPerPid.size() >= 5, "10 tasks at 2 per child ran in only " + tasksPerPid);
        assertTrue(tasksPerPid.values().stream().allMatch(n -> n <= 2), "a worker ran more than 2 tasks: " + tasksPerPid);
        assertFalse(tasksPerPid.containsKey(parentPid()));
      }
      assertEquals(List.of(0, 1, 2), pool.map(ContractTasks::identity, List.of(0, 1, 2)));
    }
  }

  // ================================================================== taskTimeout

  @Test
  @Timeout(value = 180, threadMode = SEPARATE_THREAD)
  void taskTimeoutFailsTheTaskAndReplacesItsWorker() throws Exception {
    Duration timeout = Duration.ofSeconds(1);
    ProcessPool pool = builder().processes(1).taskTimeout(timeout).build();
    try {
      long start = System.nanoTime();
      AsyncResult<String> result = pool.applyAsync(() -> ContractTasks.sleepThenReturn(30_000, "late"));
      Throwable cause = failureOf(result);
      long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
      System.out.printf("[%s] a task with taskTimeout %s failed after %d ms%n", transport(), timeout, millis);
      TaskTimeoutException e = assertInstanceOf(TaskTimeoutException.class, cause);
      assertTrue(millis < 20_000, "the timeout fired after " + millis + " ms");
      assertEquals(timeout, e.timeout());
      if (has(Capability.SEPARATE_PROCESSES)) {
        long pid = e.workerPid();
        assertTrue(pid > 0 && pid != parentPid(), "workerPid() " + pid);
        awaitCondition("the timed-out worker " + pid + " to be killed", () -> !ProcessSupport.isRunning(pid));
      }

      assertEquals("on time", pool.apply(() -> "on time"));
      assertThrows(TaskTimeoutException.class, () -> pool.apply(() -> ContractTasks.sleepThenReturn(30_000, "late")));
      assertEquals(5, echo(pool, 5));
      awaitCondition("the pool to be back at 1 worker", () -> pool.workerPids().size() == pool.processes());
    } finally {
      pool.terminate();
    }
  }

  // ================================================================== cancel

  @Test
  @Timeout(value = 180, threadMode = SEPARATE_THREAD)
  void cancelWithInterruptStopsARunningTask() throws Exception {
    ProcessPool pool = newPool(1);
    try {
      ControlledTask task = new ControlledTask("cancelled");
      AsyncResult<Long> result = task.submit(pool);
      task.awaitStarted();
      assertTrue(result.cancel(true));
      assertTrue(result.isCancelled());
      assertTrue(result.isDone());
      assertTrue(result.ready());
      assertThrows(CancellationException.class, result::get);
      assertFalse(result.cancel(true), "a second cancel must report that it cancelled nothing");
      if (has(Capability.SEPARATE_PROCESSES)) {
        awaitCondition("the cancelled task's worker " + task.pid() + " to be killed",
            () -> !ProcessSupport.isRunning(task.pid()));
      }
      assertEquals(5, echo(pool, 5));
      awaitCondition("the pool to be back at full size",
          () -> pool.workerPids().size() == pool.processes()
              && (!has(Capability.SEPARATE_PROCESSES) || !pool.workerPids().contains(task.pid())));
    } finally {
      pool.terminate();
    }
  }

  @Test
  @Timeout(value = 180, threadMode = SEPARATE_THREAD)
  void cancelOfAQueuedTaskRemovesIt() throws Exception {
    String sideEffect = tmp.resolve("queued-task-ran").toString();
    try (ProcessPool pool = newPool(1)) {
      ControlledTask blocker = new ControlledTask("blocker");
      AsyncResult<Long> running = blocker.submit(pool);
      blocker.awaitStarted();
      AsyncResult<Boolean> queued = pool.applyAsync(() -> ContractTasks.touch(sideEffect));
      assertTrue(queued.cancel(false));
      assertTrue(queued.isCancelled());
      assertThrows(CancellationException.class, () -> queued.get(1, SECONDS));

      blocker.release();
      assertEquals(blocker.pid(), running.get(PATIENCE.toSeconds(), SECONDS));
      // One worker runs tasks in order: once this one is done, the cancelled one would have run.
      assertEquals(1, echo(pool, 1));
      assertFalse(Files.exists(Path.of(sideEffect)), "the cancelled queued task ran");
    }
  }

  // ================================================================== separate processes

  @Test
  @Timeout(value = 120, threadMode = SEPARATE_THREAD)
  void tasksRunInChildProcessesOfTheParent() {
    assumeCapability(Capability.SEPARATE_PROCESSES);
    try (ProcessPool pool = newPool(2)) {
      List<Long> pids = pool.map((Integer x) -> ContractTasks.sleepThenReturn(10, ContractTasks.pid()), range(0, 20), 1);
      Set<Long> children = ProcessHandle.current().descendants().map(ProcessHandle::pid).collect(Collectors.toSet());
      for (long pid : new HashSet<>(pids)) {
        assertNotEquals(parentPid(), pid, "a task ran in the parent JVM");
        assertTrue(children.contains(pid), "worker " + pid + " is not a descendant of the parent");
        assertTrue(pool.workerPids().contains(pid), "worker " + pid + " is missing from workerPids()");
      }
    }
  }

  @Test
  @Timeout(value = 180, threadMode = SEPARATE_THREAD)
  void systemExitInATaskFailsItWithWorkerCrashedAndThePoolRecovers() throws Exception {
    assumeCapability(Capability.SEPARATE_PROCESSES);
    ProcessPool pool = newPool(2);
    try {
      ControlledTask bystander = new ControlledTask("bystander");
      String release = bystander.release;
      AsyncResult<Long> other = bystander.submit(pool);
      bystander.awaitStarted();
      AsyncResult<Object> exiting = pool.applyAsync(() -> ContractTasks.exit(3));
      WorkerCrashedException crash = assertInstanceOf(WorkerCrashedException.class, failureOf(exiting));
      assertEquals(OptionalInt.of(3), crash.exitCode(), crash.getMessage());
      long deadPid = crash.workerPid();
      assertTrue(deadPid > 0 && deadPid != parentPid(), "workerPid() " + deadPid);
      assertNotEquals(bystander.pid(), deadPid, "System.exit killed another task's worker");
      assertFalse(ProcessSupport.isRunning(deadPid));

      Files.writeString(Path.of(release), "go");
      assertEquals(bystander.pid(), other.get(PATIENCE.toSeconds(), SECONDS), "the other worker's task");

      WorkerCrashedException direct =
          assertThrows(WorkerCrashedException.class, () -> pool.apply(() -> ContractTasks.exit(3)));
      assertEquals(OptionalInt.of(3), direct.exitCode());
      assertEquals(range(0, 10), pool.map(ContractTasks::identity, range(0, 10)));
      awaitFullSize(pool, deadPid, direct.workerPid());
    } finally {
      pool.terminate();
    }
  }

  @Test
  @Timeout(value = 180, threadMode = SEPARATE_THREAD)
  void sigkillOfAWorkerFailsItsTaskPromptlyAndThePoolRecovers() throws Exception {
    assumeCapability(Capability.SEPARATE_PROCESSES);
    ProcessPool pool = newPool(2);
    try {
      ControlledTask victim = new ControlledTask("victim");
      AsyncResult<Long> result = victim.submit(pool);
      victim.awaitStarted();
      long pid = victim.pid();
      assertNotEquals(parentPid(), pid);
      assertTrue(pool.workerPids().contains(pid), pid + " not in workerPids() " + pool.workerPids());

      ProcessHandle worker = ProcessHandle.of(pid).orElseThrow();
      long start = System.nanoTime();
      assertTrue(worker.destroyForcibly());
      assertTrue(result.waitFor(PATIENCE), "the killed worker's task never completed");
      long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
      System.out.printf("[%s] a SIGKILLed worker's task failed %d ms after the kill%n", transport(), millis);

      WorkerCrashedException crash = assertInstanceOf(WorkerCrashedException.class, failureOf(result));
      assertEquals(OptionalInt.of(137), crash.exitCode(), crash.getMessage());
      assertEquals(pid, crash.workerPid());
      assertTrue(millis <= 2_000, "the crash was reported " + millis + " ms after the kill");

      assertEquals(range(0, 10), pool.map(ContractTasks::identity, range(0, 10)));
      awaitFullSize(pool, pid);
    } finally {
      pool.terminate();
    }
  }

  @Test
  @Timeout(value = 180, threadMode = SEPARATE_THREAD)
  void workersExitWhenTheirParentIsKilled() throws Exception {
    assumeCapability(Capability.SEPARATE_PROCESSES);
    Path output = tmp.resolve("parent-output.txt");
    Process parent = new ProcessBuilder(
            Path.of(System.getProperty("java.home"), "bin", "java").toString(),
            "-cp", System.getProperty("java.class.path"),
            ContractParentMain.class.getName(),
            transport())
        .redirectErrorStream(true)
        .redirectOutput(output.toFile())
        .start();
    List<ProcessHandle> workers = new ArrayList<>();
    try {
      String line = awaitLine(output, "WORKERS", parent);
      for (String pid : line.trim().split("\\s+")) {
        if (!pid.equals("WORKERS")) {
          workers.add(ProcessHandle.of(Long.parseLong(pid)).orElseThrow(() -> new AssertionError("worker " + pid + " is not running")));
        }
      }
      assertEquals(2, workers.size(), "parent reported " + line);
      Set<Long> parentsChildren = parent.descendants().map(ProcessHandle::pid).collect(Collectors.toSet());
      for (ProcessHandle worker : workers) {
        assertNotEquals(parent.pid(), worker.pid());
        assertTrue(parentsChildren.contains(worker.pid()), "worker " + worker.pid() + " is not the parent's descendant");
      }

      long start = System.nanoTime();
      parent.destroyForcibly();
      assertTrue(parent.waitFor(PATIENCE.toSeconds(), SECONDS));
      long deadline = start + Duration.ofSeconds(10).toNanos();
      while (workers.stream().anyMatch(ProcessSupport::isRunning) && System.nanoTime() < deadline) {
        ProcessSupport.pause();
      }
      long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
      List<Long> survivors =
          workers.stream().filter(ProcessSupport::isRunning).map(ProcessHandle::pid).collect(Collectors.toList());
      System.out.printf("[%s] workers exited %d ms after their parent was killed%n", transport(), millis);
      assertEquals(List.of(), survivors, "workers still running 10 s after their parent was killed");
      assertTrue(millis <= 3_000, "workers took " + millis + " ms to exit after their parent was killed");
    } finally {
      parent.destroyForcibly();
      workers.forEach(ProcessHandle::destroyForcibly); // handles check the start time: no pid-reuse accidents
      parent.getOutputStream().close();
      parent.waitFor(PATIENCE.toSeconds(), SECONDS);
    }
  }

  // ================================================================== output forwarding

  /**
   * Lines a task prints reach the parent's {@code System.out} as it is when they arrive (set after the
   * pool was built), whole and in order. Forwarding may lag the result a little, so the test waits for
   * the lines; a transport may prefix them (e.g. with the worker pid), so it matches line endings.
   *
   * <p>With {@link Capability#SEPARATE_PROCESSES}, the same pool then checks log records (see
   * {@link #assertLogRecordsReachTheParentsLoggers}); in-JVM workers log in this JVM directly.
   */
  @Test
  @Timeout(value = 120, threadMode = SEPARATE_THREAD)
  void taskOutputAndLogRecordsReachTheParent() throws Exception {
    assumeCapability(Capability.OUTPUT_FORWARDING);
    String token = UUID.randomUUID().toString();
    int count = 100;
    PrintStream original = System.out;
    ByteArrayOutputStream captured = new ByteArrayOutputStream();
    try (ProcessPool pool = newPool(2)) {
      pool.apply(ContractTasks::pid); // workers are up and have printed whatever they print at startup
      System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
      try {
        assertEquals(count, pool.apply((Integer n) -> ContractTasks.printLines(token, n), count));
        boolean immediately = forwardedLines(captured, token).size() == count;
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (forwardedLines(captured, token).size() < count && System.nanoTime() < deadline) {
          ProcessSupport.pause();
        }
        original.printf("[%s] forwarded output complete when apply() returned: %s%n", transport(), immediately);
      } finally {
        System.setOut(original);
      }
      if (has(Capability.SEPARATE_PROCESSES)) {
        assertLogRecordsReachTheParentsLoggers(pool);
      }
    }
    List<String> expected =
        IntStream.range(0, count).mapToObj(i -> ContractTasks.outputLine(token, i)).collect(Collectors.toList());
    assertEquals(expected, forwardedLines(captured, token));
  }

  /**
   * A worker's {@code System.Logger} and {@code java.util.logging} records are re-emitted in the parent
   * through {@code System.Logger} under the same logger name, with the mapped level (SEVERE → ERROR,
   * WARNING, INFO, CONFIG and FINE → DEBUG, FINER and FINEST → TRACE; as java.util.logging records
   * here: SEVERE, WARNING, INFO, FINE, FINER), the formatted message prefixed with
   * {@code "[worker PID THREAD] "}, and the exception (rebuilt with its cause, or a
   * {@link RemoteException}); records under the worker's default threshold (INFO) stay in the worker.
   * They arrive in order with the task's output, a partial line included, all before the result,
   * and are not also printed as text.
   */
  private void assertLogRecordsReachTheParentsLoggers(ProcessPool pool) {
    String token = UUID.randomUUID().toString();
    String base = "io.procpool.contract.logs." + token.substring(0, 8);
    String loud = base + ".loud";
    String quiet = base + ".quiet";
    List<String> events = Collections.synchronizedList(new ArrayList<>());
    Map<String, java.util.logging.LogRecord> records = new java.util.concurrent.ConcurrentHashMap<>();
    java.util.logging.Handler capture = new java.util.logging.Handler() {
      @Override
      public void publish(java.util.logging.LogRecord r) {
        events.add("log " + r.getLevel() + " " + r.getLoggerName() + " " + r.getMessage());
        records.put(r.getMessage().substring(r.getMessage().indexOf("] ") + 2), r);
      }

      @Override
      public void flush() {}

      @Override
      public void close() {}
    };
    java.util.logging.Logger parentLogger = java.util.logging.Logger.getLogger(base); // held: JUL keeps it weakly
    java.util.logging.Level oldLevel = parentLogger.getLevel();
    parentLogger.setLevel(java.util.logging.Level.ALL);
    parentLogger.setUseParentHandlers(false);
    parentLogger.addHandler(capture);
    PrintStream originalOut = System.out;
    PrintStream originalErr = System.err;
    String result;
    try {
      System.setOut(new PrintStream(new EventStream("out ", events), true, StandardCharsets.UTF_8));
      System.setErr(new PrintStream(new EventStream("err ", events), true, StandardCharsets.UTF_8));
      try {
        result = pool.apply((String t) -> ContractTasks.logRecords(loud, quiet, t), token);
      } finally {
        System.setOut(originalOut);
        System.setErr(originalErr);
      }
    } finally {
      parentLogger.removeHandler(capture);
      parentLogger.setUseParentHandlers(true);
      parentLogger.setLevel(oldLevel);
    }
    String[] pidAndThread = result.split(" ", 2);
    assertNotEquals(String.valueOf(parentPid()), pidAndThread[0], "the task ran in the parent");
    String prefix = "[worker " + pidAndThread[0] + " " + pidAndThread[1] + "] ";
    List<String> expected = List.of(
        "log INFO " + loud + " " + prefix + "sys info 1 of 2 " + token,
        "log SEVERE " + loud + " " + prefix + "jul severe " + token,
        "log WARNING " + loud + " " + prefix + "jul warning " + token,
        "log FINE " + loud + " " + prefix + "jul config " + token,
        "log FINE " + loud + " " + prefix + "jul fine " + token,
        "log FINER " + loud + " " + prefix + "jul finest " + token,
        "log INFO " + quiet + " " + prefix + "quiet info " + token,
        "out before " + token + " ",
        "log INFO " + loud + " " + prefix + "middle " + token,
        "out after " + token + System.lineSeparator());
    List<String> arrived;
    synchronized (events) {
      arrived = events.stream().filter(e -> e.contains(token)).collect(Collectors.toList());
    }
    assertEquals(expected, arrived, "what the parent's loggers and System.out/err got from the task, in order,"
        + " when apply() returned (levels as java.util.logging names them)");

    Throwable severe = records.get("jul severe " + token).getThrown();
    assertInstanceOf(IllegalStateException.class, severe, "the SEVERE record's exception");
    assertEquals("boom " + token, severe.getMessage());
    assertInstanceOf(IOException.class, severe.getCause(), "the exception's cause");
    assertEquals("root cause " + token, severe.getCause().getMessage());
    RemoteException remote =
        assertInstanceOf(RemoteException.class, records.get("jul warning " + token).getThrown(),
            "an exception the parent cannot rebuild arrives as a RemoteException");
    assertEquals(ContractTasks.NotSerializableFailure.class.getName(), remote.remoteClassName());
    assertEquals("unserializable " + token, remote.remoteMessage());
    assertNull(records.get("middle " + token).getThrown(), "a record without an exception");
  }

  /** Records each write as one event, {@code tag} + the text. */
  private static final class EventStream extends java.io.OutputStream {
    private final String tag;
    private final List<String> events;

    EventStream(String tag, List<String> events) {
      this.tag = tag;
      this.events = events;
    }

    @Override
    public void write(int b) {
      write(new byte[] {(byte) b}, 0, 1);
    }

    @Override
    public void write(byte[] b, int off, int len) {
      events.add(tag + new String(b, off, len, StandardCharsets.UTF_8));
    }
  }

  // ================================================================== throughput

  @Test
  @Timeout(value = 240, threadMode = SEPARATE_THREAD)
  void hundredThousandTinyTasksAllComplete() throws Exception {
    int count = 100_000;
    try (ProcessPool pool = newPool(2)) {
      pool.apply(ContractTasks::pid);
      long start = System.nanoTime();
      List<AsyncResult<Integer>> results = new ArrayList<>(count);
      for (int i = 0; i < count; i++) {
        results.add(pool.applyAsync(ContractTasks::identity, i));
      }
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
      for (int i = 0; i < count; i++) {
        long left = Math.max(0, deadline - System.nanoTime());
        assertEquals(i, results.get(i).get(left, TimeUnit.NANOSECONDS));
      }
      double seconds = (System.nanoTime() - start) / 1e9;
      System.out.printf("[%s] %d applyAsync no-op tasks in %.2f s: %.0f tasks/s%n",
          transport(), count, seconds, count / seconds);
    }
  }

  // ================================================================== pool properties, builder

  @Test
  @Timeout(value = 120, threadMode = SEPARATE_THREAD)
  void workerPidsHasOneEntryPerProcess() {
    try (ProcessPool pool = newPool(3)) {
      assertEquals(3, pool.processes());
      assertEquals(transport(), pool.transport());
      List<Long> pids = workerPidsWhenAllStarted(pool);
      assertEquals(3, pids.size(), "workerPids() " + pids);
      if (has(Capability.SEPARATE_PROCESSES)) {
        assertEquals(3, new HashSet<>(pids).size(), "workerPids() " + pids);
        assertFalse(pids.contains(parentPid()), "workerPids() " + pids + " contains the parent");
        pids.forEach(pid -> assertTrue(ProcessSupport.isRunning(pid), "worker " + pid + " is not running"));
      } else {
        assertEquals(Collections.nCopies(3, parentPid()), pids, "in-JVM workers report the parent's pid");
      }
    }
  }

  @Test
  @Timeout(value = 60, threadMode = SEPARATE_THREAD)
  void builderRejectsBadValuesAtOnce() {
    // 0 is allowed only with a cluster: without one, build() refuses it before starting anything.
    IllegalArgumentException zero = assertThrows(IllegalArgumentException.class, () -> builder().processes(0).build());
    assertTrue(zero.getMessage().contains("only with a cluster"), zero.getMessage());
    assertThrows(IllegalArgumentException.class, () -> builder().processes(-1));
    assertThrows(IllegalArgumentException.class, () -> builder().maxTasksPerChild(0));
    assertThrows(IllegalArgumentException.class, () -> builder().taskTimeout(Duration.ZERO));
    ProcessPool.Builder twice = builder().processes(1);
    assertThrows(IllegalStateException.class, () -> twice.processes(2));
  }

  @Test
  @Timeout(value = 60, threadMode = SEPARATE_THREAD)
  void unknownTransportNameFailsAndListsTheTransportsFound() {
    String unknown = "no-such-transport-" + UUID.randomUUID().toString().substring(0, 8);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> {
      ProcessPool pool = ProcessPool.builder().transport(unknown).processes(1).build();
      pool.terminate(); // not reached if build() is right
    });
    assertNotNull(e.getMessage());
    assertTrue(e.getMessage().contains(unknown), e.getMessage());
    assertTrue(e.getMessage().contains(transport()), "the message does not list the transports found: " + e.getMessage());
  }

  // ================================================================== helpers

  protected static long parentPid() {
    return ProcessHandle.current().pid();
  }

  /** Whether {@code t} or one of its causes is a {@code type} whose message contains {@code message}. */
  protected static boolean findInChain(Throwable t, Class<? extends Throwable> type, String message) {
    Predicate<Throwable> matches =
        x -> type.isInstance(x) && x.getMessage() != null && x.getMessage().contains(message);
    Set<Throwable> seen = Collections.newSetFromMap(new java.util.IdentityHashMap<>());
    for (Throwable x = t; x != null && seen.add(x); x = x.getCause()) {
      if (matches.test(x)) {
        return true;
      }
    }
    return false;
  }

  /** Waits until the pool reports {@code processes()} live workers, none of them {@code deadPids}. */
  private static void awaitFullSize(ProcessPool pool, long... deadPids) {
    awaitCondition("the pool to be back at " + pool.processes() + " workers without " + Arrays.toString(deadPids),
        () -> {
          List<Long> pids = pool.workerPids();
          return pids.size() == pool.processes() && Arrays.stream(deadPids).noneMatch(pids::contains);
        });
  }

  /** {@code workerPids()} once it lists every worker (build() returns when the first one is up). */
  private static List<Long> workerPidsWhenAllStarted(ProcessPool pool) {
    awaitCondition("all " + pool.processes() + " workers to start", () -> pool.workerPids().size() >= pool.processes());
    return pool.workerPids();
  }

  /** Waits until every worker is up and has run a task, so that timing measurements exclude JVM startup. */
  private static void warmUp(ProcessPool pool) {
    workerPidsWhenAllStarted(pool);
    int n = 4 * pool.processes();
    assertEquals(range(0, n), pool.map((Integer x) -> ContractTasks.sleepThenReturn(20, x), range(0, n), 1));
  }

  /**
   * The largest number of {@code [pid, startMillis, endMillis]} spans running at one instant, each span
   * shrunk by {@code toleranceMillis} at both ends (wall clocks of different JVMs agree only roughly).
   */
  private static int maxOverlap(List<long[]> spans, long toleranceMillis) {
    int max = 0;
    for (long[] span : spans) {
      long instant = span[1] + toleranceMillis;
      int running = 0;
      for (long[] other : spans) {
        if (other[1] + toleranceMillis <= instant && instant < other[2] - toleranceMillis) {
          running++;
        }
      }
      max = Math.max(max, running);
    }
    return max;
  }

  /** The lines of {@code captured} that end with one of {@link ContractTasks#printLines}'s, trimmed to it. */
  private static List<String> forwardedLines(ByteArrayOutputStream captured, String token) {
    String text;
    synchronized (captured) {
      text = captured.toString(StandardCharsets.UTF_8);
    }
    Matcher m = Pattern.compile("(contract-output " + Pattern.quote(token) + " line \\d+)\\r?$", Pattern.MULTILINE)
        .matcher(text);
    List<String> lines = new ArrayList<>();
    while (m.find()) {
      lines.add(m.group(1));
    }
    return lines;
  }

  /** Waits (up to {@link #PATIENCE}) for a line starting with {@code prefix} in {@code file}. */
  private static String awaitLine(Path file, String prefix, Process writer) throws IOException {
    long deadline = System.nanoTime() + PATIENCE.toNanos();
    while (System.nanoTime() < deadline) {
      if (Files.exists(file)) {
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
          if (line.startsWith(prefix + " ")) {
            return line;
          }
        }
      }
      if (!writer.isAlive()) {
        break;
      }
      ProcessSupport.pause();
    }
    String output = Files.exists(file) ? Files.readString(file, StandardCharsets.UTF_8) : "";
    return fail("no '" + prefix + "' line from the parent process (alive: " + writer.isAlive() + "); its output:\n" + output);
  }

  private static List<Integer> squares(List<Integer> items) {
    return items.stream().map(x -> x * x).collect(Collectors.toList());
  }

  private static <T> List<T> drain(Iterator<T> iterator) {
    List<T> list = new ArrayList<>();
    iterator.forEachRemaining(list::add);
    return list;
  }

  /** Runs the no-op task on {@code value} and returns its result. */
  private static int echo(ProcessPool pool, int value) {
    Integer result = pool.apply(ContractTasks::identity, value);
    return result;
  }

  /** The function of the failing-map test, typed once. */
  private interface SerializableFailAt extends io.procpool.api.SerializableFunction<Integer, Integer> {}

}
