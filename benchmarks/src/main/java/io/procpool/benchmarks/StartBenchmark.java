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
 * Pool start to first result: build a pool of {@code processes} workers and {@code apply} one no-op,
 * in ms (one shot per iteration, several forks, so that a cold JVM's first pool is also sampled in
 * warm-up). {@code close()} is not timed: it runs in a per-invocation tear-down, which then checks
 * that no worker JVM survived. Python: {@code t0; p = Pool(2); p.apply(noop); t1; p.close(); p.join()}.
 *
 * <pre>
 * java -jar benchmarks/target/benchmarks.jar StartBenchmark -rf json -rff start.json
 * </pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3)
@Measurement(iterations = 8)
@Fork(3)
public class StartBenchmark {
  @Param({"pipes", "grpc", "threads"})
  public String transport;

  @Param({"2"})
  public int processes;

  private ProcessPool pool;

  @Setup(Level.Trial)
  public void check() {
    Pools.requireTransport(transport);
  }

  @TearDown(Level.Invocation)
  public void close() {
    ProcessPool p = pool;
    pool = null;
    Pools.closeAndCheck(p);
  }

  @TearDown(Level.Trial)
  public void noneLeft() {
    Pools.assertNoChildProcesses(Pools.CHILD_EXIT_WAIT);
  }

  @Benchmark
  public Object startToFirstResult() {
    pool = Pools.start(transport, processes);
    return pool.apply(Tasks.NOOP);
  }
}
