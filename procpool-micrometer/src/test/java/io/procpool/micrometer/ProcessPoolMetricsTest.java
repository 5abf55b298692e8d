package io.procpool.micrometer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.FunctionTimer;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.procpool.api.AsyncResult;
import io.procpool.api.PoolStats;
import io.procpool.api.ProcessPool;
import io.procpool.testkit.NoLeakedProcessesExtension;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * {@link ProcessPoolMetrics} against a real pipes pool: every meter shows what {@code stats()}
 * reports after a run with failures, a scrape takes one snapshot, and the registry does not keep the
 * pool alive. One pool of two workers serves every assertion.
 */
@ExtendWith(NoLeakedProcessesExtension.class)
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ProcessPoolMetricsTest {
  private static final int TASKS = 20;
  private static final int MAP_ITEMS = 30;

  /** Fails for multiples of 5, so 4 of 0..19 fail; busy for a little CPU time either way. */
  static int squareUnlessMultipleOf5(int x) {
    long spin = 0;
    for (int i = 0; i < 10_000; i++) {
      spin += i ^ x;
    }
    if (x % 5 == 0) {
      throw new IllegalArgumentException("multiple of 5: " + x + " (" + (spin & 1) + ")");
    }
    return x * x;
  }

  static int plusOne(int x) {
    return x + 1;
  }

  @Test
  void metersShowTheStatsOfARealPoolAndOneScrapeTakesOneSnapshot() throws Exception {
    try (ProcessPool pool = ProcessPool.builder().processes(2).build()) {
      // build() returns when the first worker is ready; on a loaded machine the second may still be
      // starting when the tasks below are done, and the counts of workers below would say 1.
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (pool.workerPids().size() < 2 && System.nanoTime() < deadline) {
        Thread.sleep(10);
      }
      assertEquals(2, pool.workerPids().size(), "both workers started within 60 s");
      List<AsyncResult<Integer>> results = new ArrayList<>();
      for (int i = 0; i < TASKS; i++) {
        int x = i;
        results.add(pool.applyAsync(ProcessPoolMetricsTest::squareUnlessMultipleOf5, x));
      }
      int returned = 0;
      int threw = 0;
      for (AsyncResult<Integer> r : results) {
        try {
          r.get(60, TimeUnit.SECONDS);
          returned++;
        } catch (ExecutionException e) {
          assertTrue(e.getCause() instanceof IllegalArgumentException, () -> "unexpected failure: " + e.getCause());
          threw++;
        }
      }
      assertEquals(16, returned);
      assertEquals(4, threw);
      List<Integer> mapped = pool.map(ProcessPoolMetricsTest::plusOne,
          IntStream.range(0, MAP_ITEMS).boxed().collect(Collectors.toList()));
      assertEquals(MAP_ITEMS, mapped.size());

      // The pool is idle now: every count is final, so the meters and a fresh snapshot must agree.
      SimpleMeterRegistry registry = new SimpleMeterRegistry();
      new ProcessPoolMetrics(pool, "test-pool", Tags.of("app", "metrics-test")).bindTo(registry);
      PoolStats stats = pool.stats();

      assertEquals(TASKS + MAP_ITEMS, stats.submitted());
      assertEquals(returned + MAP_ITEMS, stats.completed());
      assertEquals(threw, stats.failed());
      assertEquals(0, stats.cancelled());
      assertEquals(0, stats.queued());
      assertEquals(0, stats.running());
      assertEquals(2, stats.workers().size());
      assertEquals(2, stats.workersStarted());
      assertEquals(0, stats.workersLost());
      assertTrue(stats.runTime().compareTo(Duration.ZERO) > 0, () -> "no run time in " + stats);
      assertTrue(stats.bytesSent() > 0 && stats.bytesReceived() > 0, () -> "no bytes in " + stats);

      assertEquals(stats.submitted(), counter(registry, "procpool.tasks.submitted"));
      assertEquals(stats.completed(), counter(registry, "procpool.tasks.completed"));
      assertEquals(stats.failed(), counter(registry, "procpool.tasks.failed"));
      assertEquals(stats.cancelled(), counter(registry, "procpool.tasks.cancelled"));
      assertEquals(stats.queued(), gauge(registry, "procpool.tasks.queued"));
      assertEquals(stats.running(), gauge(registry, "procpool.tasks.running"));
      assertEquals(stats.workers().size(), gauge(registry, "procpool.workers.alive"));
      assertEquals(0, gauge(registry, "procpool.workers.busy"));
      assertEquals(stats.workersStarted(), counter(registry, "procpool.workers.started"));
      assertEquals(stats.workersLost(), counter(registry, "procpool.workers.lost"));
      assertEquals(stats.bytesSent(), counter(registry, "procpool.bytes.sent"));
      assertEquals(stats.bytesReceived(), counter(registry, "procpool.bytes.received"));
      FunctionTimer run = registry.get("procpool.tasks.run").functionTimer();
      assertEquals(stats.completed() + stats.failed(), run.count());
      assertEquals(stats.runTime().toNanos(), run.totalTime(TimeUnit.NANOSECONDS), 1.0);
      FunctionTimer wait = registry.get("procpool.tasks.wait").functionTimer();
      assertEquals(stats.completed() + stats.failed(), wait.count());
      assertEquals(stats.waitTime().toNanos(), wait.totalTime(TimeUnit.NANOSECONDS), 1.0);

      List<Meter> meters = registry.getMeters();
      assertEquals(14, meters.size(), () -> "meters: " + names(meters));
      for (Meter m : meters) {
        assertEquals("test-pool", m.getId().getTag("pool"), () -> m.getId() + " lacks the pool tag");
        assertEquals("metrics-test", m.getId().getTag("app"), () -> m.getId() + " lacks the user's tag");
      }
      assertEquals("bytes", registry.get("procpool.bytes.sent").meter().getId().getBaseUnit());
      assertEquals("tasks", registry.get("procpool.tasks.completed").meter().getId().getBaseUnit());

      // One scrape of all 14 meters takes one snapshot; the next one after the TTL takes another.
      AtomicInteger statsCalls = new AtomicInteger();
      AtomicLong clock = new AtomicLong();
      ProcessPool counted = countingStats(pool, statsCalls);
      SimpleMeterRegistry second = new SimpleMeterRegistry();
      new ProcessPoolMetrics(counted, "counted", Tags.empty(), clock::get).bindTo(second);
      assertEquals(0, statsCalls.get(), "binding must not take a snapshot");
      scrape(second);
      assertEquals(1, statsCalls.get(), "one scrape, one stats() call");
      clock.addAndGet(TimeUnit.MILLISECONDS.toNanos(ProcessPoolMetrics.SNAPSHOT_TTL_MILLIS) - 1);
      scrape(second);
      assertEquals(1, statsCalls.get(), "a scrape within the TTL reuses the snapshot");
      clock.addAndGet(1);
      scrape(second);
      assertEquals(2, statsCalls.get(), "a scrape after the TTL takes a new snapshot");
      assertEquals(stats.completed(), counter(second, "procpool.tasks.completed"));
    }
  }

  @Test
  void theRegistryDoesNotKeepThePoolAlive() {
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    // A stand-in pool with fixed stats: the point is reachability, not the counts.
    PoolStats fixed = new PoolStats(3, 2, 1, 0, 0, 0, 1, 0, Duration.ofMillis(5), Duration.ofMillis(1), 10, 20,
        List.of());
    bindStandIn(registry, fixed);
    Gauge alive = registry.get("procpool.workers.alive").gauge();
    assertEquals(2, counter(registry, "procpool.tasks.completed"));
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (!Double.isNaN(alive.value()) && System.nanoTime() < deadline) {
      System.gc();
      Thread.onSpinWait();
    }
    assertTrue(Double.isNaN(alive.value()), "the pool was not garbage-collected: the registry keeps it alive");
    // Micrometer's function counters keep the last value they read (a counter never goes down).
    assertEquals(2, counter(registry, "procpool.tasks.completed"));
  }

  /**
   * The meters of one scrape read one snapshot, so their values add up, even when the scrape takes
   * longer than the snapshot's TTL; the next scrape reads a new one.
   */
  @Test
  void oneScrapeReadsOneSnapshotEvenWhenItIsSlow() {
    AtomicInteger taken = new AtomicInteger();
    AtomicLong clock = new AtomicLong();
    ProcessPool varying = (ProcessPool) Proxy.newProxyInstance(ProcessPoolMetricsTest.class.getClassLoader(),
        new Class<?>[] {ProcessPool.class}, (proxy, method, args) -> {
          if (method.getName().equals("stats")) {
            int n = taken.incrementAndGet();
            return new PoolStats(n, n, 0, 0, 0, 0, n, 0, Duration.ofMillis(n), Duration.ofMillis(n), n, n, List.of());
          }
          throw new UnsupportedOperationException(method.getName());
        });
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    new ProcessPoolMetrics(varying, "varying", Tags.empty(), clock::get).bindTo(registry);
    List<String> counters = List.of("procpool.tasks.submitted", "procpool.tasks.completed", "procpool.workers.started",
        "procpool.bytes.sent", "procpool.bytes.received");
    for (int scrape = 1; scrape <= 3; scrape++) {
      List<Double> values = new java.util.ArrayList<>();
      for (String name : counters) {
        clock.addAndGet(TimeUnit.MILLISECONDS.toNanos(30)); // a slow scrape: 150 ms in all
        values.add(counter(registry, name));
      }
      assertEquals(List.of((double) scrape, (double) scrape, (double) scrape, (double) scrape, (double) scrape), values,
          "scrape " + scrape + " mixed snapshots");
    }
  }

  @Test
  void aBlankNameIsRefused() {
    ProcessPool standIn = standIn(null);
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> new ProcessPoolMetrics(standIn, " "));
    assertTrue(e.getMessage().contains("'pool' tag"), e.getMessage());
  }

  /** Binds a stand-in pool and drops every reference to it, this binder included. */
  private static void bindStandIn(MeterRegistry registry, PoolStats stats) {
    new ProcessPoolMetrics(standIn(stats), "gone").bindTo(registry);
  }

  /** A pool whose only working method is {@code stats()}. */
  private static ProcessPool standIn(PoolStats stats) {
    return (ProcessPool) Proxy.newProxyInstance(ProcessPoolMetricsTest.class.getClassLoader(),
        new Class<?>[] {ProcessPool.class}, (proxy, method, args) -> {
          if (method.getName().equals("stats")) {
            return stats;
          }
          throw new UnsupportedOperationException(method.getName() + " on the stand-in pool");
        });
  }

  /** {@code pool}, counting its {@code stats()} calls. */
  private static ProcessPool countingStats(ProcessPool pool, AtomicInteger calls) {
    return (ProcessPool) Proxy.newProxyInstance(ProcessPoolMetricsTest.class.getClassLoader(),
        new Class<?>[] {ProcessPool.class}, (proxy, method, args) -> {
          if (method.getName().equals("stats")) {
            calls.incrementAndGet();
          }
          try {
            return method.invoke(pool, args);
          } catch (InvocationTargetException e) {
            throw e.getCause();
          }
        });
  }

  /** Reads every meter, as a registry's publish or scrape does. */
  private static void scrape(MeterRegistry registry) {
    for (Meter m : registry.getMeters()) {
      m.measure().forEach(measurement -> assertFalse(Double.isNaN(measurement.getValue()), m.getId()::toString));
    }
  }

  private static double counter(MeterRegistry registry, String name) {
    FunctionCounter c = registry.get(name).functionCounter();
    return c.count();
  }

  private static double gauge(MeterRegistry registry, String name) {
    return registry.get(name).gauge().value();
  }

  private static String names(List<Meter> meters) {
    return meters.stream().map(m -> m.getId().getName()).sorted().collect(Collectors.joining(", "));
  }
}
