package io.procpool.benchmarks;

import io.procpool.api.ProcessPool;
import java.util.concurrent.ThreadLocalRandom;
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
 * Echo of a {@code byte[]} of {@code size} bytes: {@code apply(echo, bytes)} sends it to a worker,
 * which returns it. Scored in ms per echo; the bandwidth, counting both directions, is
 * {@code MB/s = 2 * size / 1e6 / (ms / 1000)} (decimal megabytes; {@code compare.py} prints it).
 * Python: {@code pool.apply(echo, (payload,))}.
 *
 * <pre>
 * java -jar benchmarks/target/benchmarks.jar EchoBenchmark -rf json -rff echo.json
 * java -jar benchmarks/target/benchmarks.jar EchoBenchmark -p size=65536
 * </pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class EchoBenchmark {
  @Param({"pipes", "grpc", "threads"})
  public String transport;

  /** 1 MiB and 16 MiB. */
  @Param({"1048576", "16777216"})
  public int size;

  @Param({"2"})
  public int processes;

  private ProcessPool pool;
  private byte[] payload;

  @Setup(Level.Trial)
  public void start() {
    payload = new byte[size];
    ThreadLocalRandom.current().nextBytes(payload);
    pool = Pools.start(transport, processes);
  }

  @TearDown(Level.Trial)
  public void close() {
    Pools.closeAndCheck(pool);
  }

  @Benchmark
  public byte[] echo() {
    byte[] back = pool.apply(Tasks.ECHO, payload);
    if (back.length != size) {
      throw new AssertionError("echo returned " + back.length + " bytes");
    }
    return back;
  }
}
