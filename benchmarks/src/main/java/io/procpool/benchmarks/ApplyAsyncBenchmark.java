package io.procpool.benchmarks;

import io.procpool.api.AsyncResult;
import io.procpool.api.ProcessPool;
import java.util.concurrent.ExecutionException;
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
 * Throughput of {@code applyAsync}: one invocation submits {@value #TASKS} no-op tasks, then waits for
 * every result in submission order; the score is tasks per second. Python: {@code rs =
 * [pool.apply_async(noop) for _ in range(50000)]; [r.get() for r in rs]}.
 *
 * <pre>
 * java -jar benchmarks/target/benchmarks.jar ApplyAsyncBenchmark -rf json -rff apply-async.json
 * </pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 4, time = 1)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class ApplyAsyncBenchmark {
  static final int TASKS = 50_000;

  @Param({"pipes", "grpc", "threads"})
  public String transport;

  @Param({"2"})
  public int processes;

  private ProcessPool pool;
  private final AsyncResult<?>[] results = new AsyncResult<?>[TASKS];

  @Setup(Level.Trial)
  public void start() {
    pool = Pools.start(transport, processes);
  }

  @TearDown(Level.Trial)
  public void close() {
    Pools.closeAndCheck(pool);
  }

  @Benchmark
  @OperationsPerInvocation(TASKS)
  public void applyAsync(Blackhole bh) throws InterruptedException, ExecutionException {
    for (int i = 0; i < TASKS; i++) {
      results[i] = pool.applyAsync(Tasks.NOOP);
    }
    for (int i = 0; i < TASKS; i++) {
      bh.consume(results[i].get());
      results[i] = null;
    }
  }
}
