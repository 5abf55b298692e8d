package io.procpool.testkit;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Timeout.ThreadMode.SEPARATE_THREAD;

import io.procpool.api.AsyncResult;
import io.procpool.api.PoolClosedException;
import io.procpool.api.ProcessPool;
import io.procpool.api.SerializableCallable;
import io.procpool.api.SerializableFunction;
import io.procpool.api.TaskSerializationException;
import io.procpool.api.TaskTimeoutException;
import io.procpool.api.WorkerCrashedException;
import io.procpool.api.WorkerStartException;
import io.procpool.api.spi.TransportOptions;
import io.procpool.testkit.ContractTasks.ContractFailure;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The scheduling and lifecycle contract of {@link ProcessPool}, run against one transport: what a
 * pool promises about <em>when</em> tasks run and results arrive (no task waits behind another while
 * a worker idles, results are not held back, memory per worker is bounded), about cancellation,
 * about what {@code close()} guarantees when it returns, about worker replacement and initializer
 * failures, about {@code imap} and closed pools, and about the freshness of task functions.
 *
 * <pre>{@code
 * class PipesSchedulingContractTest extends AbstractSchedulingContractTest {
 *   @Override protected String transport() { return "pipes"; }
 *   @Override protected Set<Capability> capabilities() { return EnumSet.allOf(Capability.class); }
 * }
 * }</pre>
 *
 * <p>Conventions are those of {@link AbstractPoolContractTest}: each test states one rule (its
 * javadoc) and asserts observable behaviour with a message that says what went wrong; waits are
 * condition waits or bounded {@code get(timeout)}s with generous deadlines, tasks sleep only to
 * simulate work. In addition, nothing in this class can hang the build on a broken pool: every pool
 * is ended by a {@link PoolGuard} (a {@code close()} bounded in time, then {@code terminate()}),
 * every wait for a result is bounded, and every task that waits for something gives up after at
 * most a minute. A test's worst case stays well under its {@code @Timeout}.
 *
 * <p>Several rules are about pipelining: a pool that has seen many fast tasks sends a worker several
 * tasks ahead, so the tests first "warm" the pool with thousands of no-op tasks
 * ({@link #warmUp(ProcessPool)}) and then show what must not happen to the tasks queued ahead.
 *
 * <p>Subclasses may override {@link #builder()} to add transport options; tests set
 * {@code processes(n)} and the other options themselves.
 */
@ExtendWith(NoLeakedProcessesExtension.class)
@Timeout(value = 5, unit = TimeUnit.MINUTES, threadMode = SEPARATE_THREAD)
public abstract class AbstractSchedulingContractTest extends AbstractContractTest {

  /** How long {@link PoolGuard} lets {@code close()} take before it terminates the pool and fails. */
  protected static final Duration CLOSE_LIMIT = Duration.ofSeconds(20);

  /** No-op tasks run by {@link #warmUp} so that the scheduler considers tasks fast. */
  private static final int WARM_UP_TASKS = 2_000;

  // ================================================================== no head-of-line blocking

  /**
   * No task waits behind another while a worker is idle: a task that another (already running) task
   * waits for runs on a free worker, even after the pool has seen many fast tasks and pipelines.
   * Here a consumer waits for a file that a producer, submitted after it and after a 1 s filler
   * task, creates: on a pool of 2 all three finish within seconds.
   */
  @Test
  @Timeout(value = 120, threadMode = SEPARATE_THREAD)
  void aTaskDoesNotWaitBehindARunningTaskWhileAWorkerIsIdle() throws Exception {
    String release = tmp.resolve("released-by-producer").toString();
    Duration limit = Duration.ofSeconds(20);
    try (PoolGuard guard = guard(newPool(2))) {
      ProcessPool pool = guard.pool;
      warmUp(pool);
      try {
        SerializableCallable<Long> consumer = () -> SchedulingTasks.awaitFile(release, LONG_TASK_MILLIS);
        SerializableCallable<String> filler = () -> ContractTasks.sleepThenReturn(1000, "filler");
        SerializableCallable<Boolean> producer = () -> ContractTasks.touch(release);
        long start = System.nanoTime();
        AsyncResult<Long> consumed = pool.applyAsync(consumer);
        AsyncResult<String> filled = pool.applyAsync(filler);
        AsyncResult<Boolean> produced = pool.applyAsync(producer);
        List<AsyncResult<?>> all = List.of(consumed, filled, produced);
        long millis = millisUntilAllReady(all, start, limit);
        System.out.printf("[%s] consumer, 1 s filler and producer on 2 warm workers: all done after %d ms%n",
            transport(), millis);
        assertTrue(millis >= 0,
            "consumer/filler/producer not all done " + limit.toSeconds() + " s after submission (consumer ready: "
                + consumed.ready() + ", filler ready: " + filled.ready() + ", producer ready: " + produced.ready()
                + ", release file exists: " + Files.exists(Path.of(release)) + "): the producer is queued behind the"
                + " consumer that waits for it, on one worker, while the other worker idles after the filler");
        assertEquals("filler", filled.get(0, SECONDS));
        assertEquals(Boolean.TRUE, produced.get(0, SECONDS));
        long waited = consumed.get(0, SECONDS);
        assertTrue(waited < limit.toMillis(), "the consumer waited " + waited + " ms for the producer");
      } finally {
        ContractTasks.touch(release); // whatever happened, the consumer ends now
      }
    }
  }

  /**
   * Pipelining never strands a task: calls of one function that the pool has seen run fast are queued
   * on busy workers, and when one such call blocks (a consumer waiting for a producer queued behind
   * it), the worker gives back what it has not started as soon as another worker idles. Three rounds,
   * since where the producer is queued depends on timing.
   */
  @Test
  @Timeout(value = 180, threadMode = SEPARATE_THREAD)
  void aFastFunctionsCallThatBlocksDoesNotStrandTheCallsQueuedBehindIt() throws Exception {
    Duration limit = Duration.ofSeconds(20);
    try (PoolGuard guard = guard(newPool(2))) {
      ProcessPool pool = guard.pool;
      // One function object: the pool learns run times per function.
      io.procpool.api.SerializableFunction<String[], String> act = SchedulingTasks::act;
      awaitCondition("both workers to start", () -> pool.workerPids().size() >= 2);
      List<AsyncResult<String>> warm = new ArrayList<>();
      for (int i = 0; i < 500; i++) {
        warm.add(pool.applyAsync(act, new String[] {"noop"}));
      }
      for (AsyncResult<String> r : warm) {
        assertEquals("noop", getWithin(r, PATIENCE, "a warm-up call"));
      }
      for (int round = 0; round < 3; round++) {
        String release = tmp.resolve("release-" + round).toString();
        try {
          long start = System.nanoTime();
          AsyncResult<String> consumer = pool.applyAsync(act, new String[] {"await", release});
          AsyncResult<String> filler = pool.applyAsync(act, new String[] {"sleep", "1000"});
          // More short fillers, so that (whichever way ties go) the producer tends to be queued behind
          // the consumer: then only taking it back gets it to run.
          AsyncResult<String> filler2 = pool.applyAsync(act, new String[] {"sleep", "100"});
          AsyncResult<String> filler3 = pool.applyAsync(act, new String[] {"sleep", "100"});
          AsyncResult<String> producer = pool.applyAsync(act, new String[] {"touch", release});
          long millis = millisUntilAllReady(List.of(consumer, filler, filler2, filler3, producer), start, limit);
          System.out.printf("[%s] round %d: consumer, filler, producer of one warm function: done after %d ms%n",
              transport(), round, millis);
          assertTrue(millis >= 0, "round " + round + ": not all done within " + limit.toSeconds()
              + " s (consumer " + consumer.ready() + ", filler " + filler.ready() + ", producer " + producer.ready()
              + "): the producer stayed queued behind the consumer while the other worker idled");
          assertEquals("awaited", consumer.get(0, SECONDS));
        } finally {
          ContractTasks.touch(release);
        }
      }
    }
  }

  /**
   * Short tasks submitted after a long one do not wait for it while another worker is free: on a
   * warm pool of 2, twenty 1 ms tasks submitted right behind a 5 s task are all done within 2.5 s.
   */
  @Test
  @Timeout(value = 120, threadMode = SEPARATE_THREAD)
  void shortTasksDoNotWaitBehindALongOne() throws Exception {
    long longMillis = 5_000;
    Duration limit = Duration.ofMillis(2_500);
    try (PoolGuard guard = guard(newPool(2))) {
      ProcessPool pool = guard.pool;
      warmUp(pool);
      long start = System.nanoTime();
      AsyncResult<Integer> slow = pool.applyAsync(() -> ContractTasks.sleepThenReturn(longMillis, -1));
      List<AsyncResult<Integer>> shorts = new ArrayList<>();
      for (int i = 0; i < 20; i++) {
        shorts.add(pool.applyAsync((Integer x) -> ContractTasks.sleepThenReturn(1, x), i));
      }
      long millis = millisUntilAllReady(shorts, start, limit);
      int readyAtLimit = countReady(shorts);
      boolean slowReadyAtLimit = slow.ready();
      long allMillis = millis >= 0 ? millis : millisUntilAllReady(shorts, start, Duration.ofSeconds(15));
      System.out.printf("[%s] 20 x 1 ms tasks behind a %d ms task on 2 warm workers: all done after %d ms%n",
          transport(), longMillis, allMillis);
      assertTrue(millis >= 0,
          "only " + readyAtLimit + " of 20 short tasks were done " + limit.toMillis() + " ms after submission"
              + " (all of them after " + (allMillis >= 0 ? allMillis + " ms" : "more than 15 s")
              + ", the " + longMillis + " ms task " + (slowReadyAtLimit ? "done" : "still running")
              + "): short tasks were queued behind the long one while the other worker was free");
      for (int i = 0; i < 20; i++) {
        assertEquals(i, shorts.get(i).get(0, SECONDS));
      }
      assertEquals(-1, slow.get(PATIENCE.toSeconds(), SECONDS));
    }
  }

  // ================================================================== prompt results

  /**
   * A result is delivered as soon as its task is done, not when the worker has finished the tasks
   * queued behind it: on a warm pool of 1, a 3 ms task's result is available within 1 s although a
   * 5 s task was submitted right after it.
   */
  @Test
  @Timeout(value = 120, threadMode = SEPARATE_THREAD)
  void aResultIsDeliveredWithoutWaitingForTheTasksQueuedBehindIt() throws Exception {
    try (PoolGuard guard = guard(newPool(1))) {
      ProcessPool pool = guard.pool;
      warmUp(pool);
      long start = System.nanoTime();
      AsyncResult<Integer> quick = pool.applyAsync(() -> ContractTasks.sleepThenReturn(3, 3));
      AsyncResult<Integer> slow = pool.applyAsync(() -> ContractTasks.sleepThenReturn(5_000, 5_000));
      Integer value = getWithin(quick, Duration.ofSeconds(15), "the 3 ms task");
      long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
      boolean slowDone = slow.ready();
      System.out.printf("[%s] a 3 ms task's result with a 5 s task behind it: %d ms%n", transport(), millis);
      assertEquals(3, value);
      assertTrue(millis < 1_000,
          "the 3 ms task's result became available only " + millis + " ms after submission (the 5 s task"
              + " behind it was " + (slowDone ? "already done" : "still running")
              + "): its result was held back until the worker finished the next task");
      assertEquals(5_000, getWithin(slow, PATIENCE, "the 5 s task"));
    }
  }

  // ================================================================== byte budget

  /**
   * The pool bounds the bytes it sends ahead to a worker, not only the number of tasks: twelve tasks
   * with a 40 MiB argument each, submitted together with {@code applyAsync} to a warm pool of 2
   * workers limited to {@code -Xmx256m}, all succeed (no worker runs out of memory holding queued
   * arguments). The tasks wait (at most a minute) until the test has submitted all twelve, so that
   * every one of them is queued at once whatever the speed of the machine.
   */
  @Test
  @Timeout(value = 150, threadMode = SEPARATE_THREAD)
  void largeArgumentsAreNotPipelinedBeyondAWorkersMemory() throws Exception {
    assumeCapability(Capability.SEPARATE_PROCESSES);
    int size = 40 << 20;
    int tasks = 12;
    ProcessPool.Builder builder = builder().processes(2).jvmOptions("-Xmx256m");
    int frameNeeded = size + (1 << 20);
    if (TransportOptions.DEFAULT_MAX_FRAME_SIZE < frameNeeded) {
      builder.maxFrameSize(Math.max(frameNeeded, 64 << 20));
    }
    byte[] data = SchedulingTasks.pattern(size);
    long[] expected = SchedulingTasks.checksum(data);
    String go = tmp.resolve("all-submitted").toString();
    SerializableFunction<byte[], long[]> checksum =
        d -> SchedulingTasks.checksumOnceFileExists(go, d, LONG_TASK_MILLIS);
    try (PoolGuard guard = guard(builder.build())) {
      ProcessPool pool = guard.pool;
      warmUp(pool);
      List<AsyncResult<long[]>> results = new ArrayList<>();
      long start = System.nanoTime();
      try {
        for (int i = 0; i < tasks; i++) {
          results.add(pool.applyAsync(checksum, data));
        }
      } finally {
        ContractTasks.touch(go);
      }
      long submitMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
      Duration patience = Duration.ofSeconds(45);
      long deadline = System.nanoTime() + patience.toNanos();
      List<String> problems = new ArrayList<>();
      for (int i = 0; i < tasks; i++) {
        AsyncResult<long[]> result = results.get(i);
        try {
          long[] sum = result.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
          if (sum[0] != expected[0] || sum[1] != expected[1]) {
            problems.add("#" + i + " returned [" + sum[0] + ", " + sum[1] + "], expected [" + expected[0] + ", "
                + expected[1] + "]");
          }
        } catch (ExecutionException e) {
          problems.add("#" + i + " failed: " + describeChain(e.getCause()));
        } catch (TimeoutException e) {
          problems.add("#" + i + " not done " + patience.toSeconds() + " s after the last submit");
        }
      }
      System.out.printf("[%s] %d tasks with a %d MiB argument on 2 workers with -Xmx256m: submitted in %d ms,"
              + " done after %d ms%n",
          transport(), tasks, size >> 20, submitMillis, TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start));
      assertEquals(List.of(), problems,
          problems.size() + " of " + tasks + " tasks with a " + (size >> 20) + " MiB argument did not succeed on"
              + " workers with -Xmx256m (what a worker is sent ahead must be bounded in bytes)");
    }
  }

  // ================================================================== cancel

  /**
   * {@code cancel(true)} of a task that waits behind a running one removes it: it returns
   * {@code true}, the result is cancelled, the running task is not disturbed, and the cancelled task
   * never runs, even when the pool had already sent it to the worker ahead of time.
   */
  @Test
  @Timeout(value = 120, threadMode = SEPARATE_THREAD)
  void cancelWithInterruptOfATaskQueuedBehindARunningOneMeansItNeverRuns() throws Exception {
    String sideEffect = tmp.resolve("cancelled-task-ran").toString();
    try (PoolGuard guard = guard(newPool(1))) {
      ProcessPool pool = guard.pool;
      warmUp(pool);
      ControlledTask blocker = new ControlledTask("blocker");
      try {
        AsyncResult<Long> running = blocker.submit(pool);
        blocker.awaitStarted();
        SerializableCallable<Boolean> touch = () -> ContractTasks.touch(sideEffect);
        AsyncResult<Boolean> queued = pool.applyAsync(touch);
        assertTrue(queued.cancel(true), "cancel(true) of a queued task must report that it cancelled it");
        assertTrue(queued.isCancelled(), "isCancelled() after a successful cancel(true)");
        assertTrue(queued.ready(), "ready() after a successful cancel(true)");
        assertThrows(CancellationException.class, () -> queued.get(1, SECONDS));

        blocker.release();
        assertEquals(blocker.pid(), getWithin(running, PATIENCE, "the running task"),
            "cancelling the task queued behind it must not disturb the running task");
        // One worker runs tasks in order: once these are done, the cancelled one would have run.
        for (int i = 0; i < 3; i++) {
          AsyncResult<Integer> later = pool.applyAsync(ContractTasks::identity, i);
          assertEquals(i, getWithin(later, PATIENCE, "a later task"));
        }
        assertFalse(Files.exists(Path.of(sideEffect)),
            "the task cancelled with cancel(true) while queued behind a running task ran anyway");
      } finally {
        blocker.release();
      }
    }
  }

  // ================================================================== close() completes everything

  /**
   * {@code close()} returns only after every submitted result is complete and its callbacks have
   * run, even when a worker crashes while the pool is closing: after {@code close()} returns, the
   * crashed task's error callback has already run, exactly once, and its {@code toCompletableFuture()}
   * view (taken before {@code close()}) is already completed exceptionally. Ten rounds, each with a
   * different small delay between the submit and the crash.
   */
  @Test
  @Timeout(value = 150, threadMode = SEPARATE_THREAD)
  void closeRacingAWorkerCrashReturnsOnlyAfterTheErrorCallbackRan() throws Exception {
    assumeCapability(Capability.SEPARATE_PROCESSES);
    int rounds = 10;
    for (int round = 0; round < rounds; round++) {
      long delay = ThreadLocalRandom.current().nextLong(0, 40);
      AtomicInteger errorCalls = new AtomicInteger();
      AtomicInteger valueCalls = new AtomicInteger();
      AtomicReference<Throwable> received = new AtomicReference<>();
      try (PoolGuard guard = guard(newPool(2))) {
        ProcessPool pool = guard.pool;
        SerializableCallable<Integer> exiting = () -> SchedulingTasks.exitAfter(delay, 3);
        AsyncResult<Integer> result = pool.applyAsync(
            exiting,
            v -> valueCalls.incrementAndGet(),
            e -> {
              received.set(e);
              errorCalls.incrementAndGet();
            });
        CompletableFuture<Integer> view = result.toCompletableFuture();
        closeWithin(pool, CLOSE_LIMIT);
        // Read at once: close() must have waited for all of this.
        int errors = errorCalls.get();
        int values = valueCalls.get();
        boolean ready = result.ready();
        boolean viewDone = view.isDone();
        boolean viewFailed = view.isCompletedExceptionally();
        String where = "round " + (round + 1) + " of " + rounds + " (crash " + delay + " ms after the task started)";
        assertTrue(ready, where + ": close() returned before the crashed task's result was complete");
        assertEquals(1, errors, where + ": the error callback had run " + errors
            + " times when close() returned (value callback: " + values + " times)");
        assertEquals(0, values, where + ": the value callback ran for a crashed task");
        assertTrue(received.get() != null && findInChain(received.get(), WorkerCrashedException.class),
            where + ": the error callback received " + describeChain(received.get())
                + ", expected a WorkerCrashedException");
        assertTrue(viewDone, where + ": the toCompletableFuture() view was not complete when close() returned");
        assertTrue(viewFailed, where + ": the toCompletableFuture() view completed normally for a crashed task");
        // Nothing runs twice later either.
        LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(100)); // observation window, not synchronization
        assertEquals(1, errorCalls.get(), where + ": the error callback ran again after close() returned");
      }
    }
  }

  /**
   * When {@code close()} returns, every callback of every task submitted before it has run (Python:
   * {@code close(); join()} leaves no result pending), including slow callbacks and error callbacks,
   * and every {@code toCompletableFuture()} view is complete.
   */
  @Test
  @Timeout(value = 120, threadMode = SEPARATE_THREAD)
  void closeReturnsOnlyAfterEveryCallbackHasRun() throws Exception {
    int tasks = 40;
    AtomicInteger values = new AtomicInteger();
    AtomicInteger errors = new AtomicInteger();
    List<AsyncResult<Integer>> results = new ArrayList<>();
    List<CompletableFuture<Integer>> views = new ArrayList<>();
    try (PoolGuard guard = guard(newPool(2))) {
      ProcessPool pool = guard.pool;
      for (int i = 0; i < tasks; i++) {
        long millis = ThreadLocalRandom.current().nextLong(0, 20);
        SerializableFunction<Integer, Integer> fn = i % 5 == 4
            ? x -> ContractTasks.<Integer>fail("item " + x)
            : x -> ContractTasks.sleepThenReturn(millis, x);
        AsyncResult<Integer> result = pool.applyAsync(
            fn,
            i,
            v -> {
              LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(10)); // a slow callback
              values.incrementAndGet();
            },
            e -> {
              LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(10));
              errors.incrementAndGet();
            });
        results.add(result);
        views.add(result.toCompletableFuture());
      }
      closeWithin(pool, CLOSE_LIMIT);
      int v = values.get();
      int e = errors.get();
      long notReady = results.stream().filter(r -> !r.ready()).count();
      long viewsNotDone = views.stream().filter(f -> !f.isDone()).count();
      assertEquals(0, notReady, notReady + " results were not complete when close() returned");
      assertEquals(tasks, v + e, "when close() returned, " + v + " value callbacks and " + e
          + " error callbacks had run, of " + tasks);
      assertEquals(tasks / 5, e, "error callbacks");
      assertEquals(0, viewsNotDone, viewsNotDone + " toCompletableFuture() views were not complete when close() returned");
    }
  }

  // ================================================================== initializer failures later on

  /**
   * An initializer that fails in a replacement worker (here: while a file exists) does not break a
   * running pool for good: tasks submitted meanwhile may fail with {@link WorkerStartException}, but
   * once the initializer works again new tasks succeed. (An initializer failing at {@code build()}
   * fails {@code build()}: see {@link AbstractPoolContractTest}.)
   */
  @Test
  @Timeout(value = 150, threadMode = SEPARATE_THREAD)
  void aLaterInitializerFailureDoesNotBreakThePoolForGood() throws Exception {
    String failFile = tmp.resolve("initializer-fails").toString();
    String log = tmp.resolve("initializer-log").toString();
    ProcessPool.Builder builder = builder().processes(1).maxTasksPerChild(1)
        .initializer(() -> SchedulingTasks.initUnlessFailFile(failFile, log));
    try (PoolGuard guard = guard(builder.build())) {
      ProcessPool pool = guard.pool;
      // The first worker is initialized: from now on replacements fail.
      ContractTasks.touch(failFile);
      Long first = getWithin(pool.applyAsync(ContractTasks::pid), PATIENCE, "the first task");
      assertNotNull(first);
      awaitCondition("the initializer to fail in a replacement worker", Duration.ofSeconds(30),
          () -> lines(log).stream().anyMatch(l -> l.startsWith("fail ")));

      List<AsyncResult<Long>> during = new ArrayList<>();
      int rejectedAtSubmit = 0;
      for (int i = 0; i < 2; i++) {
        try {
          during.add(pool.applyAsync(ContractTasks::pid));
        } catch (WorkerStartException e) {
          rejectedAtSubmit++;
        }
      }

      Files.delete(Path.of(failFile));
      Duration limit = Duration.ofSeconds(30);
      long start = System.nanoTime();
      long deadline = start + limit.toNanos();
      Long recovered = null;
      Throwable last = null;
      int attempts = 0;
      while (recovered == null && System.nanoTime() < deadline) {
        attempts++;
        try {
          recovered = pool.applyAsync(ContractTasks::pid).get(Math.max(1, deadline - System.nanoTime()),
              TimeUnit.NANOSECONDS);
        } catch (WorkerStartException e) {
          last = e;
          LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(200)); // retry pace, not synchronization
        } catch (ExecutionException e) {
          last = e.getCause();
          assertTrue(findInChain(e.getCause(), WorkerStartException.class),
              "a task submitted after the initializer recovered failed with " + describeChain(e.getCause()));
          LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(200));
        } catch (TimeoutException e) {
          last = e;
        }
      }
      System.out.printf("[%s] after the initializer recovered, a task succeeded after %d ms and %d attempts"
              + " (%d submits rejected while it failed); initializer runs: %s%n",
          transport(), TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start), attempts, rejectedAtSubmit,
          lines(log));
      assertNotNull(recovered, "no task succeeded within " + limit.toSeconds() + " s (" + attempts
          + " attempts) after the initializer stopped failing: the pool stays broken; last failure: "
          + describeChain(last));

      long duringDeadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
      for (int i = 0; i < during.size(); i++) {
        AsyncResult<Long> r = during.get(i);
        assertTrue(r.waitFor(Duration.ofNanos(Math.max(0, duringDeadline - System.nanoTime()))),
            "a task submitted while the initializer failed was not complete 20 s after a task succeeded again");
        if (!r.successful()) {
          Throwable cause = failureOf(r, Duration.ofSeconds(1));
          assertTrue(findInChain(cause, WorkerStartException.class),
              "a task submitted while the initializer failed failed with " + describeChain(cause)
                  + ", expected success or a WorkerStartException");
        }
      }
      assertNotNull(getWithin(pool.applyAsync(ContractTasks::pid), Duration.ofSeconds(20), "one more task"));
    }
  }

  // ================================================================== callbacks

  /**
   * A callback may wait for another task's result through its {@code toCompletableFuture()}: the
   * callback of task A that joins task B (submitted after A) completes, callbacks of later tasks
   * still run, and {@code close()} then returns promptly.
   */
  @Test
  @Timeout(value = 120, threadMode = SEPARATE_THREAD)
  void aCallbackThatJoinsAnotherTasksFutureDoesNotDeadlockThePool() throws Exception {
    CompletableFuture<AsyncResult<Integer>> bHolder = new CompletableFuture<>();
    ConcurrentLinkedQueue<String> events = new ConcurrentLinkedQueue<>();
    AtomicReference<Throwable> callbackFailure = new AtomicReference<>();
    try (PoolGuard guard = guard(newPool(2))) {
      ProcessPool pool = guard.pool;
      pool.applyAsync(
          () -> ContractTasks.sleepThenReturn(100, 1),
          a -> {
            try {
              AsyncResult<Integer> b = bHolder.get(30, SECONDS);
              Integer bValue = b.toCompletableFuture().get(30, SECONDS);
              events.add("A joined B=" + bValue);
            } catch (Exception e) {
              callbackFailure.set(e);
              events.add("A gave up: " + e);
            }
          },
          null);
      AsyncResult<Integer> b = pool.applyAsync(() -> ContractTasks.sleepThenReturn(500, 2));
      bHolder.complete(b);
      AsyncResult<Integer> c = pool.applyAsync(
          () -> ContractTasks.sleepThenReturn(600, 3),
          v -> events.add("C=" + v),
          null);
      awaitCondition("A's callback to get B's value through B.toCompletableFuture().get() (it may wait for"
              + " a callback thread it blocks itself)", Duration.ofSeconds(15),
          () -> events.stream().anyMatch(s -> s.startsWith("A ")));
      assertEquals(null, callbackFailure.get(), "A's callback failed to join B: " + events);
      assertTrue(events.contains("A joined B=2"), "events: " + events);
      assertEquals(3, getWithin(c, PATIENCE, "task C"));
      awaitCondition("C's callback after A's blocking one", Duration.ofSeconds(15), () -> events.contains("C=3"));
      long millis = closeWithin(pool, CLOSE_LIMIT);
      System.out.printf("[%s] close() after a callback that joined another task: %d ms%n", transport(), millis);
      assertTrue(millis < 10_000, "close() took " + millis + " ms");
    }
  }

  /**
   * {@code toCompletableFuture()} of a completed result, called for the first time after the pool
   * was closed, returns a future that is already complete, with the value or the failure.
   */
  @Test
  @Timeout(value = 120, threadMode = SEPARATE_THREAD)
  void toCompletableFutureAfterCloseIsAlreadyComplete() throws Exception {
    AsyncResult<Integer> ok;
    AsyncResult<Integer> failed;
    try (PoolGuard guard = guard(newPool(2))) {
      ProcessPool pool = guard.pool;
      ok = pool.applyAsync(ContractTasks::identity, 5);
      failed = pool.applyAsync((Integer x) -> ContractTasks.<Integer>fail("late view " + x), 6);
      assertTrue(ok.waitFor(PATIENCE) && failed.waitFor(PATIENCE), "the tasks did not complete");
      closeWithin(pool, CLOSE_LIMIT);
    }
    CompletableFuture<Integer> okView = ok.toCompletableFuture();
    CompletableFuture<Integer> failedView = failed.toCompletableFuture();
    boolean okDone = okView.isDone();
    boolean failedDone = failedView.isDone();
    if (!okDone || !failedDone) {
      // Say whether it is late or never: give it a few seconds (observation window).
      long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
      while ((!okView.isDone() || !failedView.isDone()) && System.nanoTime() < deadline) {
        ProcessSupport.pause();
      }
    }
    assertTrue(okDone, "toCompletableFuture() after close() of a succeeded result was not complete"
        + (okView.isDone() ? " (it completed a moment later)" : ", nor 5 s later"));
    assertTrue(failedDone, "toCompletableFuture() after close() of a failed result was not complete"
        + (failedView.isDone() ? " (it completed a moment later)" : ", nor 5 s later"));
    assertEquals(5, okView.getNow(-1));
    assertTrue(failedView.isCompletedExceptionally(), "the view of a failed task completed normally");
    ExecutionException e = assertThrows(ExecutionException.class, () -> failedView.get(0, SECONDS));
    assertTrue(findInChain(e, ContractFailure.class), "the failed view's cause: " + describeChain(e));
  }

  // ================================================================== imap and close

  /**
   * Python's idiom {@code it = pool.imap(f, items); pool.close(); for r in it: ...} works: after
   * {@code close()}, the iterator of an {@code imap} over a collection yields every result in input
   * order (no {@link PoolClosedException}); likewise {@code imapUnordered}, in any order. The input
   * is large enough that a pool cannot have sent it all ahead before {@code close()}.
   */
  @Test
  @Timeout(value = 120, threadMode = SEPARATE_THREAD)
  void imapOfACollectionThenCloseThenIterateYieldsEveryResult() throws Exception {
    List<Integer> items = range(0, 1_000);
    List<Integer> doubled = items.stream().map(x -> x * 2).collect(Collectors.toList());
    try (PoolGuard guard = guard(newPool(2))) {
      ProcessPool pool = guard.pool;
      Iterator<Integer> ordered = pool.imap((Integer x) -> x * 2, items);
      closeWithin(pool, CLOSE_LIMIT);
      assertEquals(doubled, drainWithin(ordered, Duration.ofSeconds(20), "imap, iterated after close()"));
    }
    try (PoolGuard guard = guard(newPool(2))) {
      ProcessPool pool = guard.pool;
      Iterator<Integer> unordered = pool.imapUnordered((Integer x) -> x * 2, items);
      closeWithin(pool, CLOSE_LIMIT);
      assertEquals(doubled,
          sorted(drainWithin(unordered, Duration.ofSeconds(20), "imapUnordered, iterated after close()")));
    }
  }

  /**
   * Two threads closing the pool at once do not cut short the submission of an open imap: both
   * close() calls return only when it is done, and iterating afterwards yields every result.
   */
  @Test
  @Timeout(value = 120, threadMode = SEPARATE_THREAD)
  void concurrentClosesStillFinishAnOpenImap() throws Exception {
    List<Integer> items = range(0, 2_000);
    for (int round = 0; round < 3; round++) {
      try (PoolGuard guard = guard(newPool(2))) {
        ProcessPool pool = guard.pool;
        Iterator<Integer> it = pool.imap((Integer x) -> x + 1, items);
        CompletableFuture<Long> other = CompletableFuture.supplyAsync(() -> closeWithin(pool, CLOSE_LIMIT));
        closeWithin(pool, CLOSE_LIMIT);
        getWithin(other, CLOSE_LIMIT, "the concurrent close()");
        List<Integer> expected = items.stream().map(x -> x + 1).collect(Collectors.toList());
        assertEquals(expected, drainWithin(it, Duration.ofSeconds(20), "round " + round + ": imap after two close() calls"));
      }
    }
  }

  /**
   * map's default chunk size is a guess from the item count; it never turns items that each fit in a
   * frame into a chunk that does not: 16 items of 300 KiB with maxFrameSize 1 MiB (default chunk size
   * 4, i.e. 1.2 MiB) map fine; an explicit chunk size is taken as given.
   */
  @Test
  @Timeout(value = 120, threadMode = SEPARATE_THREAD)
  void mapsDefaultChunksFitTheFrameLimit() throws Exception {
    List<byte[]> items = new ArrayList<>();
    for (int i = 0; i < 16; i++) {
      items.add(SchedulingTasks.pattern(300 * 1024 + i));
    }
    try (PoolGuard guard = guard(builder().processes(1).maxFrameSize(1 << 20).build())) {
      ProcessPool pool = guard.pool;
      List<Integer> lengths = pool.map((byte[] b) -> b.length, items);
      assertEquals(items.stream().map(b -> b.length).collect(Collectors.toList()), lengths);
      assertThrows(TaskSerializationException.class, () -> pool.map((byte[] b) -> b.length, items, 4),
          "an explicit chunk size of 4 (1.2 MiB) is over the 1 MiB limit");
    }
  }

  /**
   * {@code imap} and {@code imapUnordered} return at once without pulling input: the input's iterator
   * is not advanced until the first {@code hasNext()}/{@code next()}; then results come as usual.
   */
  @Test
  @Timeout(value = 120, threadMode = SEPARATE_THREAD)
  void imapPullsNoInputBeforeTheFirstHasNext() throws Exception {
    try (PoolGuard guard = guard(newPool(2))) {
      ProcessPool pool = guard.pool;
      for (boolean inOrder : new boolean[] {true, false}) {
        String name = inOrder ? "imap" : "imapUnordered";
        AtomicInteger pulled = new AtomicInteger();
        Iterable<Integer> counting = countingIterable(100, pulled);
        Iterator<Integer> results = inOrder
            ? pool.imap((Integer x) -> x + 1, counting)
            : pool.imapUnordered((Integer x) -> x + 1, counting);
        assertEquals(0, pulled.get(), name + "(...) pulled " + pulled.get()
            + " input items before the first hasNext()/next(); it must return at once, lazily");
        List<Integer> all = drainWithin(results, Duration.ofSeconds(30), name);
        assertEquals(range(1, 101), inOrder ? all : sorted(all), name + " results");
        assertEquals(100, pulled.get(), name + " pulled items");
      }
    }
  }

  // ================================================================== closed pool

  /**
   * A closed pool rejects {@code map}, {@code mapAsync}, {@code imap} and {@code imapUnordered} with
   * {@link PoolClosedException} at the call, even for an empty input (Python raises
   * "Pool not running" whatever the input).
   */
  @Test
  @Timeout(value = 120, threadMode = SEPARATE_THREAD)
  void aClosedPoolRejectsMapsOfAnEmptyInput() {
    List<Integer> empty = List.of();
    SerializableFunction<Integer, Integer> fn = x -> x + 1;
    try (PoolGuard guard = guard(newPool(1))) {
      ProcessPool pool = guard.pool;
      closeWithin(pool, CLOSE_LIMIT);
      List<String> accepted = new ArrayList<>();
      expectClosed(accepted, "map(fn, [])", () -> pool.map(fn, empty));
      expectClosed(accepted, "map(fn, [], 2)", () -> pool.map(fn, empty, 2));
      expectClosed(accepted, "mapAsync(fn, [])", () -> pool.mapAsync(fn, empty));
      expectClosed(accepted, "mapAsync(fn, [], 2)", () -> pool.mapAsync(fn, empty, 2));
      expectClosed(accepted, "mapAsync(fn, [], 2, cb, ecb)", () -> pool.mapAsync(fn, empty, 2, l -> { }, e -> { }));
      expectClosed(accepted, "imap(fn, [])", () -> pool.imap(fn, empty));
      expectClosed(accepted, "imap(fn, [], 2)", () -> pool.imap(fn, empty, 2));
      expectClosed(accepted, "imapUnordered(fn, [])", () -> pool.imapUnordered(fn, empty));
      expectClosed(accepted, "imapUnordered(fn, [], 2)", () -> pool.imapUnordered(fn, empty, 2));
      assertEquals(List.of(), accepted, "a closed pool accepted these calls without PoolClosedException");
    }
  }

  // ================================================================== fresh functions

  /**
   * A task function is taken as it is at each submit: a function object whose field changed between
   * two {@code apply}s runs with the new value (no stale copy cached by identity).
   */
  @Test
  @Timeout(value = 120, threadMode = SEPARATE_THREAD)
  void aMutatedFunctionObjectRunsWithItsCurrentState() throws Exception {
    SchedulingTasks.Adder add = new SchedulingTasks.Adder(1);
    try (PoolGuard guard = guard(newPool(2))) {
      ProcessPool pool = guard.pool;
      assertEquals(2, pool.apply(add, 1));
      add.base = 100;
      assertEquals(101, pool.apply(add, 1),
          "apply ran a stale copy of the function object (its field changed from 1 to 100 since the last submit)");
      add.base = 1000;
      assertEquals(1001, getWithin(pool.applyAsync(add, 1), PATIENCE, "applyAsync(add, 1)"), "applyAsync, stale");
      add.base = 10;
      assertEquals(List.of(11, 12, 13), pool.map(add, List.of(1, 2, 3)), "map ran a stale copy");
    }
  }

  /**
   * A lambda that captures a mutable object runs with that object's state at submit time: after the
   * captured array or {@link AtomicInteger} changed, the next task sees the change.
   */
  @Test
  @Timeout(value = 120, threadMode = SEPARATE_THREAD)
  void aLambdaCapturingMutableStateRunsWithItsCurrentState() throws Exception {
    int[] box = {1};
    AtomicInteger counter = new AtomicInteger(1);
    SerializableFunction<Integer, Integer> plusBox = x -> box[0] + x;
    SerializableCallable<Integer> read = counter::get;
    try (PoolGuard guard = guard(newPool(2))) {
      ProcessPool pool = guard.pool;
      assertEquals(2, pool.apply(plusBox, 1));
      box[0] = 100;
      assertEquals(101, pool.apply(plusBox, 1),
          "a lambda capturing an int[] ran with the array as it was at an earlier submit (1), not as it is (100)");
      assertEquals(1, pool.apply(read));
      counter.set(7);
      assertEquals(7, pool.apply(read),
          "a method reference bound to an AtomicInteger ran with its value at an earlier submit (1), not 7");
    }
  }

  // ================================================================== result decoding errors

  /**
   * An {@link Error} while decoding a result in the parent (a {@link NoClassDefFoundError} or an
   * {@link ExceptionInInitializerError}, as when the result's class cannot be loaded or initialized
   * there) fails that task alone with {@link TaskSerializationException}: the worker lives on (the same
   * worker runs the next task) and the tasks around it are unaffected.
   */
  @Test
  @Timeout(value = 120, threadMode = SEPARATE_THREAD)
  void anErrorDecodingAResultFailsThatTaskAloneWithTaskSerializationException() throws Exception {
    Duration wait = Duration.ofSeconds(20);
    try (PoolGuard guard = guard(newPool(1))) {
      ProcessPool pool = guard.pool;
      long pidBefore = getWithin(pool.applyAsync(ContractTasks::pid), PATIENCE, "the first task");
      for (String kind : List.of("NoClassDefFoundError", "ExceptionInInitializerError")) {
        AsyncResult<Integer> before = pool.applyAsync((Integer x) -> ContractTasks.sleepThenReturn(50, x), 1);
        AsyncResult<Object> bad = pool.applyAsync(() -> SchedulingTasks.explodingResult(kind));
        AsyncResult<Integer> after = pool.applyAsync((Integer x) -> ContractTasks.sleepThenReturn(0, x), 2);

        Throwable cause = failureOf(bad, wait, "the task whose result throws " + kind + " when decoded in the parent");
        assertTrue(cause instanceof TaskSerializationException,
            "a result whose decoding throws " + kind + " must fail its task with TaskSerializationException, got "
                + describeChain(cause));
        assertTrue(chainContains(cause, kind),
            "the " + kind + " is not in the cause chain: " + describeChain(cause));
        assertEquals(1, getWithin(before, wait, "the task before the bad result (" + kind + ")"));
        assertEquals(2, getWithin(after, wait, "the task after the bad result (" + kind + ")"));
        long pidAfter = getWithin(pool.applyAsync(ContractTasks::pid), wait, "a task after the bad result");
        assertEquals(pidBefore, pidAfter, "the worker was replaced after a result failed to decode in the parent ("
            + kind + ")");
      }
    }
  }

  // ================================================================== maxTasksPerChild and close

  /**
   * With {@code maxTasksPerChild}, no replacement worker is started after the last task when the
   * pool is closing: with {@code maxTasksPerChild(1)} on a pool of 1, three tasks (the last one
   * submitted right before {@code close()}, and running for a second, so that {@code close()} surely
   * comes while it runs) mean exactly three workers, as counted by initializer runs and (with
   * separate processes) by the worker processes seen. Three rounds, since whether a superfluous
   * replacement gets as far as its initializer depends on timing.
   */
  @Test
  @Timeout(value = 150, threadMode = SEPARATE_THREAD)
  void closeStartsNoReplacementWorkerAfterTheLastTask() throws Exception {
    int rounds = 3;
    for (int round = 1; round <= rounds; round++) {
      String log = tmp.resolve("init-log-" + round).toString();
      ProcessPool.Builder builder = builder().processes(1).maxTasksPerChild(1)
          .initializer(() -> SchedulingTasks.recordInit(log));
      try (ChildSampler children = new ChildSampler(); PoolGuard guard = guard(builder.build())) {
        ProcessPool pool = guard.pool;
        Integer first = pool.apply(ContractTasks::identity, 0);
        Integer second = pool.apply(ContractTasks::identity, 1);
        assertEquals(0, first);
        assertEquals(1, second);
        AsyncResult<Integer> last = pool.applyAsync((Integer x) -> ContractTasks.sleepThenReturn(1_000, x), 2);
        long millis = closeWithin(pool, CLOSE_LIMIT);
        Set<Long> seen = children.stop();
        assertTrue(last.ready(), "close() returned before the last task finished");
        assertEquals(2, last.get(0, SECONDS));
        List<String> runs = lines(log);
        System.out.printf("[%s] round %d: close() with maxTasksPerChild(1): %d ms; initializer runs: %s;"
            + " child processes: %s%n", transport(), round, millis, runs, seen);
        String where = "round " + round + " of " + rounds + ": ";
        assertEquals(3, runs.size(), where + "3 tasks with maxTasksPerChild(1) need 3 workers, but the initializer"
            + " ran " + runs.size() + " times: " + runs + " (a replacement was started for a closing pool with"
            + " nothing left to do)");
        if (has(Capability.SEPARATE_PROCESSES)) {
          assertEquals(3, seen.size(), where + "3 tasks with maxTasksPerChild(1) need 3 worker processes, but "
              + seen.size() + " were started: " + seen + " (a replacement was started for a closing pool with"
              + " nothing left to do)");
        }
      }
    }
  }

  // ================================================================== taskTimeout per item

  /**
   * {@code taskTimeout} limits each item of a {@code map}, not each chunk: with the default chunk size
   * (3 here: 17 items on 2 workers), items of 600 ms each pass under a 1.5 s timeout although a chunk
   * takes 1.8 s.
   */
  @Test
  @Timeout(value = 120, threadMode = SEPARATE_THREAD)
  void taskTimeoutAppliesToEachItemOfAMapNotToAChunk() throws Exception {
    Duration timeout = Duration.ofMillis(1_500);
    long itemMillis = 600;
    int n = 17;
    int processes = 2;
    int defaultChunksize = (n + 4 * processes - 1) / (4 * processes);
    assertEquals(3, defaultChunksize);
    try (PoolGuard guard = guard(builder().processes(processes).taskTimeout(timeout).build())) {
      ProcessPool pool = guard.pool;
      long start = System.nanoTime();
      AsyncResult<List<Integer>> result =
          pool.mapAsync((Integer x) -> ContractTasks.sleepThenReturn(itemMillis, x), range(0, n));
      assertTrue(result.waitFor(PATIENCE), "map did not complete within " + PATIENCE.toSeconds() + " s");
      System.out.printf("[%s] map of %d items of %d ms with taskTimeout %s: %d ms%n", transport(), n, itemMillis,
          timeout, TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start));
      if (!result.successful()) {
        Throwable cause = failureOf(result, Duration.ofSeconds(1));
        fail("map of " + n + " items of " + itemMillis + " ms each (default chunksize " + defaultChunksize
            + ") failed under a taskTimeout of " + timeout.toMillis() + " ms that no item exceeds: "
            + describeChain(cause)
            + (findInChain(cause, TaskTimeoutException.class) ? " (the timeout was applied to a whole chunk)" : ""));
      }
      assertEquals(range(0, n), result.get(0, SECONDS));
    }
  }

  // ================================================================== helpers

  /** Wraps {@code pool} so that try-with-resources ends it within bounded time. */
  protected static PoolGuard guard(ProcessPool pool) {
    return new PoolGuard(pool);
  }

  /**
   * Ends a pool without ever hanging the test: {@code close()} bounded by {@link #CLOSE_LIMIT} (a
   * failure if it takes longer), then {@code terminate()} in any case (a no-op after a clean close).
   */
  protected static final class PoolGuard implements AutoCloseable {
    final ProcessPool pool;

    PoolGuard(ProcessPool pool) {
      this.pool = pool;
    }

    @Override
    public void close() {
      try {
        closeWithin(pool, CLOSE_LIMIT);
      } finally {
        pool.terminate();
      }
    }
  }

  /**
   * Calls {@code pool.close()} on another thread and waits at most {@code limit} for it to return;
   * fails if it does not (the caller then terminates the pool). Returns how long it took.
   */
  protected static long closeWithin(ProcessPool pool, Duration limit) {
    CompletableFuture<Void> closed = new CompletableFuture<>();
    Thread closer = new Thread(() -> {
      try {
        pool.close();
        closed.complete(null);
      } catch (Throwable t) {
        closed.completeExceptionally(t);
      }
    }, "contract-test-close");
    closer.setDaemon(true);
    long start = System.nanoTime();
    closer.start();
    try {
      closed.get(limit.toMillis(), TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      fail("close() did not return within " + limit.toSeconds() + " s (pool: " + pool + ")");
    } catch (ExecutionException e) {
      throw new AssertionError("close() threw " + e.getCause(), e.getCause());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      fail("interrupted while waiting for close()");
    }
    return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
  }

  /**
   * Makes the scheduler consider tasks fast: waits for every worker, then runs
   * {@value #WARM_UP_TASKS} no-op tasks with {@code applyAsync} and waits for them. A pool that
   * pipelines sends workers several tasks ahead after this.
   */
  protected static void warmUp(ProcessPool pool) throws Exception {
    awaitCondition("all " + pool.processes() + " workers to start", () -> pool.workerPids().size() >= pool.processes());
    List<AsyncResult<Integer>> results = new ArrayList<>(WARM_UP_TASKS);
    for (int i = 0; i < WARM_UP_TASKS; i++) {
      results.add(pool.applyAsync(ContractTasks::identity, i));
    }
    long deadline = System.nanoTime() + PATIENCE.toNanos();
    for (int i = 0; i < WARM_UP_TASKS; i++) {
      try {
        assertEquals(i, results.get(i).get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS));
      } catch (TimeoutException e) {
        fail("warm-up: " + WARM_UP_TASKS + " no-op tasks not done within " + PATIENCE.toSeconds() + " s");
      }
    }
  }

  /** The value of {@code result} within {@code timeout}; fails naming {@code what} otherwise. */
  protected static <T> T getWithin(Future<T> result, Duration timeout, String what) throws InterruptedException {
    try {
      return result.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (ExecutionException e) {
      throw new AssertionError(what + " failed: " + describeChain(e.getCause()), e.getCause());
    } catch (TimeoutException e) {
      return fail(what + " did not complete within " + timeout.toMillis() + " ms");
    }
  }

  /**
   * Polls until every result is ready, at most {@code limit} from {@code startNanos}; returns the
   * milliseconds from {@code startNanos} until then, or -1 if they were not all ready in time.
   */
  private static long millisUntilAllReady(List<? extends Future<?>> results, long startNanos, Duration limit) {
    long deadline = startNanos + limit.toNanos();
    while (true) {
      if (results.stream().allMatch(Future::isDone)) {
        return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNanos);
      }
      if (System.nanoTime() > deadline) {
        return -1;
      }
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(2));
    }
  }

  private static int countReady(List<? extends Future<?>> results) {
    return (int) results.stream().filter(Future::isDone).count();
  }

  /** Drains {@code it} on another thread, at most {@code limit}; fails naming {@code what} otherwise. */
  private static <T> List<T> drainWithin(Iterator<T> it, Duration limit, String what) throws InterruptedException {
    List<T> drained = Collections.synchronizedList(new ArrayList<>());
    CompletableFuture<Void> done = new CompletableFuture<>();
    Thread t = new Thread(() -> {
      try {
        while (it.hasNext()) {
          drained.add(it.next());
        }
        done.complete(null);
      } catch (Throwable e) {
        done.completeExceptionally(e);
      }
    }, "contract-test-drain");
    t.setDaemon(true);
    t.start();
    try {
      done.get(limit.toMillis(), TimeUnit.MILLISECONDS);
    } catch (ExecutionException e) {
      throw new AssertionError(what + ": iteration threw after " + drained.size() + " results: "
          + describeChain(e.getCause()), e.getCause());
    } catch (TimeoutException e) {
      t.interrupt();
      fail(what + ": iteration not finished within " + limit.toSeconds() + " s (" + drained.size()
          + " results so far)");
    }
    synchronized (drained) {
      return new ArrayList<>(drained);
    }
  }

  /** Runs {@code call}; records {@code what} in {@code accepted} unless it throws PoolClosedException. */
  private static void expectClosed(List<String> accepted, String what, Runnable call) {
    try {
      call.run();
      accepted.add(what);
    } catch (PoolClosedException e) {
      // as it must
    } catch (RuntimeException e) {
      accepted.add(what + " threw " + e + " instead of PoolClosedException");
    }
  }

  /** An Iterable (not a Collection) of 0..size-1 whose iterator counts the items pulled. */
  private static Iterable<Integer> countingIterable(int size, AtomicInteger pulled) {
    return () -> new Iterator<>() {
      @Override
      public boolean hasNext() {
        return pulled.get() < size;
      }

      @Override
      public Integer next() {
        int next = pulled.getAndIncrement();
        if (next >= size) {
          throw new NoSuchElementException();
        }
        return next;
      }
    };
  }

  /** The lines of {@code file}, or none if it does not exist. */
  private static List<String> lines(String file) {
    try {
      Path path = Path.of(file);
      return Files.exists(path) ? Files.readAllLines(path, StandardCharsets.UTF_8) : List.of();
    } catch (IOException e) {
      throw new AssertionError("cannot read " + file, e);
    }
  }

  /** Whether {@code t} or one of its causes is a {@code type}. */
  protected static boolean findInChain(Throwable t, Class<? extends Throwable> type) {
    Set<Throwable> seen = Collections.newSetFromMap(new IdentityHashMap<>());
    for (Throwable x = t; x != null && seen.add(x); x = x.getCause()) {
      if (type.isInstance(x)) {
        return true;
      }
    }
    return false;
  }

  /** Whether {@code t} or one of its causes has the simple class name {@code simpleName}. */
  private static boolean chainContains(Throwable t, String simpleName) {
    Set<Throwable> seen = Collections.newSetFromMap(new IdentityHashMap<>());
    for (Throwable x = t; x != null && seen.add(x); x = x.getCause()) {
      if (x.getClass().getSimpleName().equals(simpleName)) {
        return true;
      }
    }
    return false;
  }

  /**
   * Records every child process of this JVM that appears while it runs (polling every few
   * milliseconds: a worker JVM lives far longer than that), for tests that count worker starts.
   */
  private static final class ChildSampler implements AutoCloseable {
    private final Set<Long> before =
        ProcessHandle.current().children().map(ProcessHandle::pid).collect(Collectors.toSet());
    private final Set<Long> seen = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private final Thread thread;
    private volatile boolean stopped;

    ChildSampler() {
      thread = new Thread(() -> {
        while (!stopped) {
          sample();
          LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(3));
        }
      }, "contract-test-child-sampler");
      thread.setDaemon(true);
      thread.start();
    }

    private void sample() {
      ProcessHandle.current().children().map(ProcessHandle::pid).filter(pid -> !before.contains(pid)).forEach(seen::add);
    }

    /** Stops sampling; the new children seen. */
    Set<Long> stop() throws InterruptedException {
      stopped = true;
      thread.join(5_000);
      sample();
      return new java.util.TreeSet<>(seen);
    }

    @Override
    public void close() throws InterruptedException {
      stop();
    }
  }

}
