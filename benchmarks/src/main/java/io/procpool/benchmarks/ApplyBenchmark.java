package io.procpool.benchmarks;

import io.procpool.api.ProcessPool;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Round trip of one no-op task through {@code apply} (submit, run in a worker, result back), in µs per
 * call. Python: {@code pool.apply(noop)}.
 *
 * <pre>
 * java -jar benchmarks/target/benchmarks.jar ApplyBenchmark -rf json -rff apply.json
 * java -jar benchmarks/target/benchmarks.jar ApplyBenchmark -bm sample   # percentiles
 * </pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 5, time = 1)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class ApplyBenchmark {
  @Param({"pipes", "grpc", "threads"})
  public String transport;

  @Param({"2"})
  public int processes;

  private ProcessPool pool;

  @Setup(Level.Trial)
  public void start() {
    pool = Pools.start(transport, processes);
  }

  @TearDown(Level.Trial)
  public void close() {
    Pools.closeAndCheck(pool);
  }

  @Benchmark
  public Object apply() {
    return pool.apply(Tasks.NOOP);
  }
}
