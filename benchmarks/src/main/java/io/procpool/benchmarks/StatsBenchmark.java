package io.procpool.benchmarks;

import io.procpool.api.PoolStats;
import io.procpool.api.ProcessPool;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

/**
 * What {@link ProcessPool#stats()} costs:
 *
 * <ul>
 *   <li>{@code imapUnordered}: items per second of an {@code imapUnordered} of {@value #ITEMS} Integers
 *       with chunksize 1 (one scheduler round per item, where a snapshot competes most for the
 *       scheduler's lock), while another thread calls {@code stats()}: never ({@code observer=none}),
 *       every 100 ms as a progress display or a metrics scrape would ({@code 100ms}), or every
 *       millisecond ({@code 1ms}, a hundred times that). The tear-down prints how many snapshots the
 *       observer took and their median, 99th percentile and longest time (lock waits included).
 *   <li>{@code stats}: the time of one {@code stats()} call on an idle pool.
 * </ul>
 *
 * <pre>
 * java -jar benchmarks/target/benchmarks.jar StatsBenchmark -f 1 -wi 2 -i 3
 * </pre>
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 4, time = 1)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class StatsBenchmark {
  static final int ITEMS = 20_000;

  /** A pool in use, and the thread that watches it. */
  @State(Scope.Benchmark)
  public static class Busy {
    @Param({"pipes", "threads"})
    public String transport;

    @Param({"2"})
    public int processes;

    /** How often the observer thread calls {@code stats()}: {@code none}, {@code 100ms} or {@code 1ms}. */
    @Param({"none", "100ms", "1ms"})
    public String observer;

    ProcessPool pool;
    List<Integer> items;
    private Thread thread;
    private volatile boolean stop;
    private long calls;
    private final long[] samples = new long[100_000];
    private long sink;

    @Setup(Level.Trial)
    public void start() {
      long period;
      switch (observer) {
        case "none":
          period = 0;
          break;
        case "100ms":
          period = TimeUnit.MILLISECONDS.toNanos(100);
          break;
        case "1ms":
          period = TimeUnit.MILLISECONDS.toNanos(1);
          break;
        default:
          throw new IllegalArgumentException("observer must be none, 100ms or 1ms, got '" + observer + "'");
      }
      items = new ArrayList<>(ITEMS);
      for (int i = 0; i < ITEMS; i++) {
        items.add(i);
      }
      pool = Pools.start(transport, processes);
      if (period > 0) {
        thread = new Thread(() -> observe(period), "stats-observer");
        thread.setDaemon(true);
        thread.start();
      }
    }

    private void observe(long periodNanos) {
      while (!stop) {
        long t0 = System.nanoTime();
        PoolStats s = pool.stats();
        long t = System.nanoTime() - t0;
        if (calls < samples.length) {
          samples[(int) calls] = t;
        }
        calls++;
        sink += s.submitted();
        LockSupport.parkNanos(periodNanos);
      }
    }

    @TearDown(Level.Trial)
    public void close() throws InterruptedException {
      try {
        if (thread != null) {
          stop = true;
          thread.join(TimeUnit.SECONDS.toMillis(10));
          if (calls == 0) {
            throw new IllegalStateException("the observer thread never called stats()");
          }
          long[] sorted = Arrays.copyOf(samples, (int) Math.min(calls, samples.length));
          Arrays.sort(sorted);
          System.out.printf(Locale.ROOT,
              "%nobserver: %d stats() calls while the pool ran (warm-up included): median %.1f µs, p99 %.1f µs, max %.1f µs%n",
              calls, sorted[sorted.length / 2] / 1e3, sorted[(int) (sorted.length * 0.99)] / 1e3,
              sorted[sorted.length - 1] / 1e3);
        }
      } finally {
        Pools.closeAndCheck(pool);
      }
    }
  }

  /** A pool with nothing to do. */
  @State(Scope.Benchmark)
  public static class Idle {
    @Param({"pipes", "threads"})
    public String transport;

    @Param({"2"})
    public int processes;

    ProcessPool pool;

    @Setup(Level.Trial)
    public void start() {
      pool = Pools.start(transport, processes);
      pool.apply(Tasks.NOOP); // workers are up: the snapshot lists them
    }

    @TearDown(Level.Trial)
    public void close() {
      Pools.closeAndCheck(pool);
    }
  }

  @Benchmark
  @OperationsPerInvocation(ITEMS)
  public void imapUnordered(Busy s, Blackhole bh) {
    Iterator<Integer> it = s.pool.imapUnordered(Tasks.IDENTITY, s.items, 1);
    int n = 0;
    while (it.hasNext()) {
      bh.consume(it.next());
      n++;
    }
    if (n != ITEMS) {
      throw new AssertionError("imapUnordered yielded " + n + " items");
    }
  }

  @Benchmark
  @BenchmarkMode(Mode.AverageTime)
  @OutputTimeUnit(TimeUnit.NANOSECONDS)
  public PoolStats stats(Idle s) {
    return s.pool.stats();
  }
}
