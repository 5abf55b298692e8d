package io.procpool.benchmarks;

import io.procpool.api.ProcessPool;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.TimeUnit;
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
 * Items per second through the bulk calls, with an identity function:
 *
 * <ul>
 *   <li>{@code map}: {@value #MAP_ITEMS} Integers, default chunksize ({@code ceil(n / (4 * processes))},
 *       as Python computes it). Python: {@code pool.map(ident, xs)}.
 *   <li>{@code imapUnordered}: {@value #IMAP_ITEMS} Integers, chunksize {@value #IMAP_CHUNKSIZE}, every
 *       result consumed. Python: {@code for r in pool.imap_unordered(ident, xs, 100): pass}.
 * </ul>
 *
 * <pre>
 * java -jar benchmarks/target/benchmarks.jar MapBenchmark -rf json -rff map.json
 * </pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 4, time = 1)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class MapBenchmark {
  static final int MAP_ITEMS = 1_000_000;
  static final int IMAP_ITEMS = 200_000;
  static final int IMAP_CHUNKSIZE = 100;

  @Param({"pipes", "grpc", "threads"})
  public String transport;

  @Param({"2"})
  public int processes;

  private ProcessPool pool;
  private List<Integer> mapItems;
  private List<Integer> imapItems;

  @Setup(Level.Trial)
  public void start() {
    mapItems = range(MAP_ITEMS);
    imapItems = range(IMAP_ITEMS);
    pool = Pools.start(transport, processes);
  }

  @TearDown(Level.Trial)
  public void close() {
    Pools.closeAndCheck(pool);
  }

  @Benchmark
  @OperationsPerInvocation(MAP_ITEMS)
  public List<Integer> map() {
    List<Integer> out = pool.map(Tasks.IDENTITY, mapItems);
    if (out.size() != MAP_ITEMS) {
      throw new AssertionError("map returned " + out.size() + " items");
    }
    return out;
  }

  @Benchmark
  @OperationsPerInvocation(IMAP_ITEMS)
  public void imapUnordered(Blackhole bh) {
    Iterator<Integer> it = pool.imapUnordered(Tasks.IDENTITY, imapItems, IMAP_CHUNKSIZE);
    int n = 0;
    while (it.hasNext()) {
      bh.consume(it.next());
      n++;
    }
    if (n != IMAP_ITEMS) {
      throw new AssertionError("imapUnordered yielded " + n + " items");
    }
  }

  private static List<Integer> range(int n) {
    List<Integer> list = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      list.add(i);
    }
    return list;
  }
}
