package app;

import io.procpool.api.AsyncResult;
import io.procpool.api.ManagedQueue;
import io.procpool.api.Manager;
import io.procpool.api.ProcessPool;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

/**
 * A small consumer application of procpool, launched by the launch tests in every way a Java
 * application runs. It prints one line,
 * {@code RESULT app=<pid> apply=<pid> map=<sum> queue=<items> workers=<pid>,<pid> pool=<pids>},
 * after the pool and the manager are closed, and returns from {@code main} (so a non-daemon thread
 * left behind would keep the JVM alive and fail the test).
 *
 * <p>Argument: the transport, {@code pipes} (default) or {@code grpc}, used by the pool and the manager.
 */
public final class Main {
  private Main() {}

  /**
   * Runs the application.
   *
   * @param args {@code [transport]}
   * @throws Exception if anything fails: the stack trace and a non-zero exit fail the test
   */
  public static void main(String[] args) throws Exception {
    String transport = args.length > 0 ? args[0] : "pipes";
    long self = ProcessHandle.current().pid();
    long applyPid;
    long sum;
    List<String> items = new ArrayList<>();
    TreeSet<Long> workers = new TreeSet<>();
    TreeSet<Long> poolPids;
    try (ProcessPool pool = ProcessPool.builder().processes(2).transport(transport).build()) {
      applyPid = pool.apply(Work::pid);

      List<Integer> numbers = IntStream.rangeClosed(1, 100).boxed().collect(Collectors.toList());
      sum = pool.map(Work::square, numbers).stream().mapToLong(Integer::longValue).sum();

      try (Manager manager = Manager.builder().transport(transport).build()) {
        ManagedQueue<String> ready = manager.queue();
        ManagedQueue<String> go = manager.queue();
        AsyncResult<Long> first = pool.applyAsync(() -> Work.rendezvous(ready, go, 11));
        AsyncResult<Long> second = pool.applyAsync(() -> Work.rendezvous(ready, go, 12));
        items.add(ready.get(Duration.ofSeconds(60)));
        items.add(ready.get(Duration.ofSeconds(60)));
        go.put("go");
        go.put("go");
        workers.add(first.get(60, TimeUnit.SECONDS));
        workers.add(second.get(60, TimeUnit.SECONDS));
      }
      poolPids = new TreeSet<>(pool.workerPids());
    }
    items.sort(null);
    System.out.println("RESULT app=" + self + " apply=" + applyPid + " map=" + sum
        + " queue=" + String.join(",", items) + " workers=" + join(workers) + " pool=" + join(poolPids));
  }

  private static String join(TreeSet<Long> pids) {
    return pids.stream().map(String::valueOf).collect(Collectors.joining(","));
  }
}
