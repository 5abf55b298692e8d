package io.procpool.reliability;

import io.procpool.api.ManagedQueue;
import io.procpool.api.Manager;
import io.procpool.api.ProcessPool;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * A parent JVM for {@link OperatorFilterTest}, started with {@code -Djdk.serialFilter=!...OperatorGadget}:
 * {@code OperatorFilterMain <transport> <marker dir>} builds a pool whose own filter refuses
 * {@link Gadget} (its workers get the operator's filter through {@code jvmOptions}) and a manager, sends
 * each gadget as a result, as an argument and as a queue item, and prints one line per case:
 * {@code CASE <name> refused|ACCEPTED <detail>}, then {@code SERVING <answer>} and {@code DONE}.
 * Safety nets: it exits on its own after 3 minutes.
 */
public final class OperatorFilterMain {
  private OperatorFilterMain() {}

  static final String OPERATOR_FILTER = "!" + OperatorGadget.class.getName();

  public static void main(String[] args) throws Exception {
    Thread watchdog = new Thread(() -> {
      Rel.pause(180_000);
      Runtime.getRuntime().halt(3);
    });
    watchdog.setDaemon(true);
    watchdog.start();
    String transport = args[0];
    Path dir = Path.of(args[1]);
    String operatorResult = dir.resolve("operator-result").toString();
    String poolResult = dir.resolve("pool-result").toString();
    try (Manager manager = Manager.builder().transport(transport).build();
        ProcessPool pool = ProcessPool.builder().transport(transport).processes(1)
            .serialFilter("!" + Gadget.class.getName())
            .jvmOptions("-Djdk.serialFilter=" + OPERATOR_FILTER).build()) {
      report("operator-result", () -> pool.apply(() -> new OperatorGadget(operatorResult)));
      report("pool-result", () -> pool.apply(() -> new Gadget(poolResult)));
      report("operator-argument",
          () -> pool.apply(GadgetAbuseTest::describe, new OperatorGadget(dir.resolve("operator-argument").toString())));
      report("pool-argument",
          () -> pool.apply(GadgetAbuseTest::describe, new Gadget(dir.resolve("pool-argument").toString())));
      ManagedQueue<Object> q = manager.queue();
      q.put(new OperatorGadget(dir.resolve("operator-item-parent").toString()));
      report("operator-item-parent", q::get);
      q.put(new OperatorGadget(dir.resolve("operator-item-worker").toString()));
      report("operator-item-worker", () -> pool.apply(GadgetAbuseTest::take, q));
      System.out.println("SERVING " + pool.apply((Integer x) -> x + 1, 2));
    }
    System.out.println("DONE");
    System.out.flush();
    System.exit(0);
  }

  private interface Case {
    Object run() throws Exception;
  }

  private static void report(String name, Case c) {
    String line;
    try {
      line = "ACCEPTED " + c.run();
    } catch (Exception e) {
      Throwable t = e instanceof ExecutionException && e.getCause() != null ? e.getCause() : e;
      line = "refused " + String.valueOf(t).replace('\n', ' ');
    }
    System.out.println("CASE " + name + " " + line);
    System.out.flush();
  }
}
