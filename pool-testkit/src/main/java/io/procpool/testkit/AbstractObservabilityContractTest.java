package io.procpool.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Timeout.ThreadMode.SEPARATE_THREAD;

import io.procpool.api.AsyncResult;
import io.procpool.api.MapOptions;
import io.procpool.api.PoolStats;
import io.procpool.api.ProcessPool;
import io.procpool.api.Progress;
import io.procpool.api.TaskFailedException;
import io.procpool.api.WorkerCrashedException;
import io.procpool.api.WorkerStats;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The observability contract of {@link ProcessPool}, run against one transport: progress listeners
 * ({@link MapOptions#onProgress}), {@link ProcessPool#stats()} and
 * {@link ProcessPool.Builder#callbackExecutor}. A transport's test class extends it as it extends
 * {@link AbstractPoolContractTest}.
 */
@ExtendWith(NoLeakedProcessesExtension.class)
@Timeout(value = 3, unit = TimeUnit.MINUTES, threadMode = SEPARATE_THREAD)
public abstract class AbstractObservabilityContractTest extends AbstractContractTest {

  /** Spins for about {@code micros} (CPU work that a sleep's timer slack does not stretch). */
  static int spin(int x, long micros) {
    long end = System.nanoTime() + micros * 1000;
    while (System.nanoTime() < end) {
      Thread.onSpinWait();
    }
    return x;
  }

  /** Records every progress call with the thread it ran on. */
  private static final class Recorder {
    final List<Progress> calls = Collections.synchronizedList(new ArrayList<>());
    final Set<String> threads = Collections.synchronizedSet(new HashSet<>());
    final AtomicInteger concurrent = new AtomicInteger();
    volatile boolean overlapped;

    void on(Progress p) {
      if (concurrent.incrementAndGet() > 1) {
        overlapped = true;
      }
      try {
        calls.add(p);
        threads.add(Thread.currentThread().getName());
      } finally {
        concurrent.decrementAndGet();
      }
    }

    List<Progress> snapshot() {
      synchronized (calls) {
        return new ArrayList<>(calls);
      }
    }
  }

  private static void assertMonotone(List<Progress> calls) {
    for (int i = 1; i < calls.size(); i++) {
      Progress a = calls.get(i - 1);
      Progress b = calls.get(i);
      assertTrue(b.completed() >= a.completed() && b.failed() >= a.failed()
          && b.elapsed().compareTo(a.elapsed()) >= 0, "progress went back: " + a + " then " + b);
    }
  }

  // ================================================================== progress

  /** The progress rules, on one pool (each part is a method below). */
  @Test
  void progress() {
    try (ProcessPool pool = newPool(2)) {
      mapProgressIsMonotoneThrottledAndEndsAtTheTotalBeforeMapReturns(pool);
      imapProgressCountsFailuresAndEndsBeforeTheIteratorDoes(pool);
      imapOverAnIteratorReportsAnUnknownTotalUntilTheInputEnds(pool);
      aThrowingListenerDoesNotBreakTheMap(pool);
    }
  }

  /**
   * A map's listener sees counts that only grow, at most about every 100 ms plus a final call with
   * every item done, and that final call comes before {@code map} returns; nothing comes after it.
   */
  private static void mapProgressIsMonotoneThrottledAndEndsAtTheTotalBeforeMapReturns(ProcessPool pool) {
    Recorder r = new Recorder();
    int n = 3000;
    int callsBeforeReturn;
    {
      long start = System.nanoTime();
      List<Integer> out = pool.map((Integer x) -> spin(x, 200), range(0, n),
          MapOptions.defaults().chunksize(10).onProgress(r::on));
      long tookMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
      assertEquals(range(0, n), out);
      List<Progress> calls = r.snapshot();
      callsBeforeReturn = calls.size();
      assertFalse(calls.isEmpty(), "no progress call before map returned");
      Progress last = calls.get(calls.size() - 1);
      assertEquals(new Progress(n, 0, n, last.elapsed()), last, "the final call must report every item, before map returns");
      assertEquals(1.0, last.fraction());
      assertEquals(Duration.ZERO, last.eta().orElseThrow());
      assertMonotone(calls);
      // At most one call per ~100 ms plus the final one (generous: the interval is measured on the pool's clock).
      assertTrue(calls.size() <= tookMillis / 50 + 3,
          calls.size() + " progress calls in " + tookMillis + " ms: not throttled to ~100 ms");
      assertFalse(r.overlapped, "progress calls overlapped");
      assertEquals(1, r.threads.size(), "progress ran on several threads: " + r.threads);
      for (Progress p : calls) {
        assertEquals(n, p.total());
        assertTrue(p.completed() % 10 == 0, "progress must count whole chunks' items: " + p);
      }
      // Nothing after the final call, even when more work runs on the pool.
      assertEquals(List.of(1, 2), pool.map((Integer x) -> x + 1, List.of(0, 1)));
      pool.apply(() -> 1);
    }
    assertEquals(callsBeforeReturn, r.snapshot().size(), "a progress call after the final one: " + r.snapshot());
  }

  /** Progress counts failed items; the final call of an imap comes before {@code hasNext()} says false. */
  private static void imapProgressCountsFailuresAndEndsBeforeTheIteratorDoes(ProcessPool pool) {
    Recorder r = new Recorder();
    {
      Iterator<Integer> it = pool.imapUnordered(
          (Integer x) -> x % 10 == 3 ? ContractTasks.<Integer>fail("item " + x) : x, range(0, 100),
          MapOptions.defaults().onProgress(r::on));
      int values = 0;
      int failures = 0;
      while (it.hasNext()) {
        try {
          it.next();
          values++;
        } catch (TaskFailedException e) {
          failures++;
        }
      }
      assertEquals(90, values);
      assertEquals(10, failures);
      List<Progress> calls = r.snapshot();
      assertFalse(calls.isEmpty());
      Progress last = calls.get(calls.size() - 1);
      assertEquals(90, last.completed(), "final call: " + last);
      assertEquals(10, last.failed(), "final call: " + last);
      assertEquals(100, last.total());
      assertMonotone(calls);
    }
  }

  /**
   * An imap whose input is not a collection has total -1 while the input lasts (an infinite one
   * never has a final call); when a finite one ends, the final call reports the count as the total.
   */
  private static void imapOverAnIteratorReportsAnUnknownTotalUntilTheInputEnds(ProcessPool pool) {
    Recorder infinite = new Recorder();
    Recorder finite = new Recorder();
    {
      Iterable<Integer> forever = () -> IntStream.iterate(0, i -> i + 1).iterator();
      Iterator<Integer> it = pool.imap((Integer x) -> x * 2, forever, MapOptions.defaults().onProgress(infinite::on));
      for (int i = 0; i < 200; i++) {
        assertEquals(2 * i, it.next());
      }
      awaitCondition("a progress call of the infinite imap", () -> !infinite.calls.isEmpty());
      for (Progress p : infinite.snapshot()) {
        assertEquals(-1, p.total(), "an infinite input has no total: " + p);
        assertTrue(Double.isNaN(p.fraction()));
        assertTrue(p.eta().isEmpty());
      }
      assertMonotone(infinite.snapshot());

      Iterable<Integer> thirty = () -> IntStream.range(0, 30).iterator();
      Iterator<Integer> it2 = pool.imap((Integer x) -> x, thirty, MapOptions.defaults().chunksize(4).onProgress(finite::on));
      List<Integer> got = new ArrayList<>();
      it2.forEachRemaining(got::add);
      assertEquals(range(0, 30), got);
      List<Progress> calls = finite.snapshot();
      Progress last = calls.get(calls.size() - 1);
      assertEquals(new Progress(30, 0, 30, last.elapsed()), last, "the final call knows the total once the input ended");
      assertMonotone(calls);
    }
  }

  /** A listener that throws is logged and does not affect the map or later calls. */
  private static void aThrowingListenerDoesNotBreakTheMap(ProcessPool pool) {
    AtomicInteger calls = new AtomicInteger();
    {
      List<Integer> out = pool.map((Integer x) -> x, range(0, 50), MapOptions.defaults().chunksize(1).onProgress(p -> {
        calls.incrementAndGet();
        throw new IllegalStateException("listener bug");
      }));
      assertEquals(range(0, 50), out);
      assertTrue(calls.get() >= 1);
    }
  }

  @Test
  void mapOptionsValidateAndAreImmutable() {
    assertThrows(IllegalArgumentException.class, () -> MapOptions.defaults().chunksize(0));
    assertThrows(NullPointerException.class, () -> MapOptions.defaults().onProgress(null));
    MapOptions base = MapOptions.defaults();
    MapOptions chunked = base.chunksize(7);
    assertTrue(base.chunksize().isEmpty());
    assertEquals(7, chunked.chunksize().getAsInt());
    assertTrue(chunked.progressListener().isEmpty());
  }

  // ================================================================== stats

  /**
   * While tasks wait, stats show them as queued and running and the workers as busy. After a run
   * with failures, a cancel and (with separate processes) a worker that died, the counters add up:
   * every submitted task is completed, failed or cancelled; the lost worker is counted and replaced;
   * per-worker busy time covers the work it did and never exceeds its life.
   */
  @Test
  void statsShowWaitingTasksAndAddUpAfterFailuresAndALostWorker() throws Exception {
    try (ProcessPool pool = newPool(2)) {
      assertEquals(0, pool.stats().submitted());
      awaitCondition("2 workers ready", () -> pool.stats().workersStarted() >= 2);

      // Both workers blocked, five tasks queued behind them.
      ControlledTask blocker1 = new ControlledTask("stats-blocker-1");
      ControlledTask blocker2 = new ControlledTask("stats-blocker-2");
      AsyncResult<Long> b1 = blocker1.submit(pool);
      AsyncResult<Long> b2 = blocker2.submit(pool);
      blocker1.awaitStarted();
      blocker2.awaitStarted();
      List<AsyncResult<Integer>> queued = new ArrayList<>();
      for (int i = 0; i < 5; i++) {
        int v = i;
        queued.add(pool.applyAsync(() -> v));
      }
      PoolStats during = pool.stats();
      assertEquals(7, during.submitted(), during.toString());
      assertEquals(7, during.queued() + during.running(), during.toString());
      assertTrue(during.running() >= 2, during.toString());
      for (WorkerStats w : during.workers()) {
        assertEquals(WorkerStats.State.BUSY, w.state(), during.toString());
      }
      assertTrue(queued.get(4).cancel(false));
      blocker1.release();
      blocker2.release();
      b1.get(PATIENCE.toMillis(), TimeUnit.MILLISECONDS);
      b2.get(PATIENCE.toMillis(), TimeUnit.MILLISECONDS);
      for (int i = 0; i < 4; i++) {
        assertEquals(i, queued.get(i).get(PATIENCE.toMillis(), TimeUnit.MILLISECONDS));
      }

      List<AsyncResult<Integer>> sleeps = new ArrayList<>();
      for (int i = 0; i < 20; i++) {
        int v = i;
        sleeps.add(pool.applyAsync(() -> ContractTasks.sleepThenReturn(20, v)));
      }
      List<AsyncResult<Integer>> failing = new ArrayList<>();
      for (int i = 0; i < 5; i++) {
        failing.add(pool.applyAsync(() -> ContractTasks.<Integer>fail("expected")));
      }
      // A map of 40 items in chunks of 8, item 4 failing: its chunk counts item 4 and the items after
      // it as failed; the chunks after it are withdrawn (cancelled) unless they finished first.
      Throwable mapFailure = assertThrows(TaskFailedException.class,
          () -> pool.map((Integer x) -> x == 4 ? ContractTasks.<Integer>fail("item 4") : x, range(0, 40), 8));
      assertTrue(mapFailure.getMessage().contains("item 4"), mapFailure.getMessage());
      boolean crash = has(Capability.SEPARATE_PROCESSES);
      if (crash) {
        Throwable f = failureOf(pool.applyAsync(() -> ContractTasks.<Integer>exit(3)));
        assertInstanceOf(WorkerCrashedException.class, f, describeChain(f));
      }
      for (int i = 0; i < 20; i++) {
        assertEquals(i, sleeps.get(i).get(PATIENCE.toMillis(), TimeUnit.MILLISECONDS));
      }
      for (AsyncResult<Integer> f : failing) {
        assertTrue(f.waitFor(PATIENCE));
        assertFalse(f.successful());
      }
      // Workers may still hold withdrawn chunks until they confirm they dropped them.
      awaitCondition("nothing queued or running, every worker idle", () -> {
        PoolStats s = pool.stats();
        return s.queued() == 0 && s.running() == 0
            && s.workers().stream().allMatch(w -> w.state() == WorkerStats.State.IDLE);
      });
      if (crash) {
        awaitCondition("the lost worker replaced", () -> pool.stats().workersStarted() >= 3);
      }
      PoolStats s = pool.stats();
      assertEquals(7 + 20 + 5 + 40 + (crash ? 1 : 0), s.submitted(), s.toString());
      assertEquals(s.submitted(), s.completed() + s.failed() + s.cancelled() + s.queued() + s.running(), s.toString());
      // Completed: 2 blockers, 4 queued, 20 sleeps, map items 0-3, and the map chunks that finished first.
      assertTrue(s.completed() >= 2 + 4 + 20 + 4 && s.completed() <= 2 + 4 + 20 + 4 + 32, s.toString());
      assertEquals(5 + 4 + (crash ? 1 : 0), s.failed(), s.toString());
      assertEquals(1 + (2 + 4 + 20 + 4 + 32 - s.completed()), s.cancelled(), s.toString());
      assertEquals(crash ? 1 : 0, s.workersLost(), s.toString());
      assertTrue(s.runTime().toMillis() >= 20 * 20 * 9 / 10, "20 tasks slept 20 ms each, runTime " + s.runTime());
      assertTrue(s.bytesSent() > 0 && s.bytesReceived() > 0, s.toString());
      assertEquals(2, s.workers().size(), s.toString());
      Instant now = Instant.now();
      long workerTasks = 0;
      for (WorkerStats w : s.workers()) {
        assertTrue(w.busy().compareTo(Duration.between(w.startedAt(), now)) <= 0, "busier than alive: " + w);
        assertTrue(w.busyFraction(now) >= 0.0 && w.busyFraction(now) <= 1.0, w.toString());
        assertEquals(WorkerStats.State.IDLE, w.state(), w.toString());
        workerTasks += w.tasksCompleted() + w.tasksFailed();
        if (has(Capability.SEPARATE_PROCESSES)) {
          assertTrue(pool.workerPids().contains(w.pid()), w + " not among " + pool.workerPids());
        } else {
          assertEquals(-1, w.pid(), "an in-JVM worker has no pid of its own: " + w);
        }
      }
      assertTrue(workerTasks <= s.completed() + s.failed(), s.toString());
    }
  }

  // ================================================================== callbackExecutor

  /**
   * With a callbackExecutor, callbacks, progress calls and future views run on its threads; callbacks
   * one at a time; close() returns after they ran and leaves the executor running.
   */
  @Test
  void callbacksProgressAndViewsRunOnTheCallbackExecutor() throws Exception {
    ExecutorService executor = Executors.newFixedThreadPool(3, runnable -> {
      Thread t = new Thread(runnable, "app-callbacks");
      t.setDaemon(true);
      return t;
    });
    try {
      ConcurrentLinkedQueue<String> callbackThreads = new ConcurrentLinkedQueue<>();
      AtomicInteger running = new AtomicInteger();
      AtomicInteger callbacks = new AtomicInteger();
      AtomicInteger overlaps = new AtomicInteger();
      Recorder progress = new Recorder();
      String viewThread;
      try (ProcessPool pool = builder().processes(2).callbackExecutor(executor).build()) {
        for (int i = 0; i < 40; i++) {
          int v = i;
          pool.applyAsync(() -> v, value -> {
            if (running.incrementAndGet() > 1) {
              overlaps.incrementAndGet();
            }
            callbackThreads.add(Thread.currentThread().getName());
            spin(0, 200);
            callbacks.incrementAndGet();
            running.decrementAndGet();
          }, null);
        }
        assertEquals(range(0, 100), pool.map((Integer x) -> x, range(0, 100),
            MapOptions.defaults().chunksize(5).onProgress(progress::on)));
        viewThread = pool.applyAsync(() -> 1).toCompletableFuture()
            .thenApplyAsync(x -> Thread.currentThread().getName()).get(PATIENCE.toMillis(), TimeUnit.MILLISECONDS);
      }
      assertEquals(40, callbacks.get(), "close() must return after every callback ran");
      assertEquals(0, overlaps.get(), "callbacks ran concurrently on the callbackExecutor");
      assertEquals(Set.of("app-callbacks"), new HashSet<>(callbackThreads));
      assertEquals(Set.of("app-callbacks"), progress.threads);
      assertFalse(progress.overlapped);
      assertEquals(100, progress.snapshot().get(progress.calls.size() - 1).completed());
      assertEquals("app-callbacks", viewThread);
      assertFalse(executor.isShutdown(), "the pool must not shut the user's executor down");
    } finally {
      executor.shutdownNow();
    }
  }
}
