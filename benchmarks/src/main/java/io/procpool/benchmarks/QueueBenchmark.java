package io.procpool.benchmarks;

import io.procpool.api.AsyncResult;
import io.procpool.api.ManagedQueue;
import io.procpool.api.Manager;
import io.procpool.api.ProcessPool;
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

/**
 * Managed queues: {@code putGet} is one {@code put} and one {@code get} from the parent (pairs/s);
 * {@code workerToWorker} streams {@value #ITEMS} items from a producer task to a consumer task
 * through the manager (items/s). The manager and the pool use the same transport.
 *
 * <pre>
 * java -jar benchmarks/target/benchmarks.jar QueueBenchmark -p transport=pipes
 * </pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class QueueBenchmark {
  static final int ITEMS = 20_000;

  @Param({"pipes", "grpc"})
  public String transport;

  private Manager manager;
  private ManagedQueue<Integer> queue;
  private ProcessPool pool;

  @Setup(Level.Trial)
  public void start() {
    Pools.requireTransport(transport);
    if (transport.equals("threads")) {
      throw new IllegalStateException("SKIPPED: a manager is always a process; 'threads' has none");
    }
    manager = Manager.builder().transport(transport).build();
    queue = manager.queue();
    pool = Pools.start(transport, 2);
  }

  @TearDown(Level.Trial)
  public void close() {
    try {
      manager.close();
    } finally {
      Pools.closeAndCheck(pool);
    }
  }

  @Benchmark
  public Integer putGet() {
    queue.put(1);
    return queue.get();
  }

  @Benchmark
  @OperationsPerInvocation(ITEMS)
  public long workerToWorker() throws Exception {
    ManagedQueue<Integer> q = queue;
    AsyncResult<Long> consumer = pool.applyAsync(QueueBenchmark::consume, q);
    pool.apply(QueueBenchmark::produce, q);
    return consumer.get(10, TimeUnit.MINUTES);
  }

  static long consume(ManagedQueue<Integer> q) {
    long sum = 0;
    for (int i = 0; i < ITEMS; i++) {
      sum += q.get();
    }
    return sum;
  }

  static Void produce(ManagedQueue<Integer> q) {
    for (int i = 0; i < ITEMS; i++) {
      q.put(i);
    }
    return null;
  }
}
