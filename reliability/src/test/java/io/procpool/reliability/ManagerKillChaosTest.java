package io.procpool.reliability;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.procpool.api.AsyncResult;
import io.procpool.api.ManagedQueue;
import io.procpool.api.Manager;
import io.procpool.api.ManagerUnreachableException;
import io.procpool.api.ProcessPool;
import io.procpool.manager.internal.ManagerHandle;
import io.procpool.testkit.NoLeakedProcessesExtension;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * SIGKILL of the manager while producers and consumers (in the parent and in pool workers) run: every
 * client call fails within 2 s with {@link ManagerUnreachableException}, and so does a later call.
 */
@ExtendWith(NoLeakedProcessesExtension.class)
class ManagerKillChaosTest {
  static final long LIMIT_MILLIS = 2_000;

  static List<String> transports() {
    return Rel.processTransports();
  }

  /** Runs in a worker: puts until a call fails; returns "ExceptionClass|epochMillis|items|message". */
  static String produce(ManagedQueue<Integer> q) {
    int n = 0;
    try {
      while (true) {
        q.put(n++, Duration.ofSeconds(30));
      }
    } catch (RuntimeException e) {
      return e.getClass().getName() + "|" + System.currentTimeMillis() + "|" + n + "|" + e.getMessage();
    }
  }

  /** Runs in a worker: gets until a call fails. */
  static String consume(ManagedQueue<Integer> q) {
    int n = 0;
    try {
      while (true) {
        q.get();
        n++;
      }
    } catch (RuntimeException e) {
      return e.getClass().getName() + "|" + System.currentTimeMillis() + "|" + n + "|" + e.getMessage();
    }
  }

  @ParameterizedTest(name = "manager-kill[{0}]")
  @MethodSource("transports")
  @Timeout(value = 120, unit = TimeUnit.SECONDS)
  void everyClientCallFailsFastWithManagerUnreachable(String transport) throws Exception {
    Manager manager = Manager.builder().transport(transport).build();
    ProcessPool pool = ProcessPool.builder().transport(transport).processes(2).build();
    Map<String, String> outcomes = new ConcurrentHashMap<>();
    List<Thread> threads = new ArrayList<>();
    try {
      ManagedQueue<Integer> toParent = manager.queue("to-parent", 1000);
      ManagedQueue<Integer> toWorkers = manager.queue("to-workers", 1000);
      ManagedQueue<Integer> idle = manager.queue("idle");
      AtomicLong parentGot = new AtomicLong();
      AtomicLong parentPut = new AtomicLong();
      AsyncResult<String> workerProducer = pool.applyAsync(ManagerKillChaosTest::produce, toParent);
      AsyncResult<String> workerConsumer = pool.applyAsync(ManagerKillChaosTest::consume, toWorkers);
      threads.add(clientThread("parent-consumer", outcomes, () -> {
        toParent.get();
        parentGot.incrementAndGet();
      }));
      threads.add(clientThread("parent-producer", outcomes, () -> {
        toWorkers.put(1, Duration.ofSeconds(30));
        parentPut.incrementAndGet();
      }));
      threads.add(clientThread("parent-blocked-get", outcomes, idle::get));
      threads.forEach(Thread::start);
      assertTrue(Rel.await(Duration.ofSeconds(60), () -> parentGot.get() > 200 && parentPut.get() > 200),
          "no traffic through the manager: got " + parentGot + ", put " + parentPut);

      long pid = ((ManagerHandle) manager).pid();
      long killMillis = System.currentTimeMillis();
      ProcessHandle.of(pid).orElseThrow().destroyForcibly();

      for (Thread t : threads) {
        t.join(10_000);
      }
      outcomes.put("worker-producer", workerProducer.get(10, TimeUnit.SECONDS));
      outcomes.put("worker-consumer", workerConsumer.get(10, TimeUnit.SECONDS));
      long laterStart = System.currentTimeMillis();
      try {
        toParent.qsize();
        outcomes.put("later-call", "returned normally|" + System.currentTimeMillis() + "|0|");
      } catch (RuntimeException e) {
        outcomes.put("later-call", e.getClass().getName() + "|" + System.currentTimeMillis() + "|0|" + e.getMessage());
      }

      Map<String, String> report = new TreeMap<>();
      List<String> bad = new ArrayList<>();
      long worst = 0;
      for (String who : List.of("parent-consumer", "parent-producer", "parent-blocked-get", "worker-producer",
          "worker-consumer", "later-call")) {
        String o = outcomes.get(who);
        if (o == null) {
          bad.add(who + ": still running 10 s after the kill");
          continue;
        }
        String[] f = o.split("\\|", 4);
        long after = Long.parseLong(f[1]) - (who.equals("later-call") ? laterStart : killMillis);
        worst = Math.max(worst, after);
        report.put(who, f[0].substring(f[0].lastIndexOf('.') + 1) + " after " + after + " ms");
        if (!f[0].equals(ManagerUnreachableException.class.getName()) || after > LIMIT_MILLIS) {
          bad.add(who + ": " + o);
        }
      }
      Rel.summary(String.format("manager-kill[%s]: %d client calls, %d failed with ManagerUnreachableException "
          + "within %d ms (worst %d ms) %s", transport, 6, 6 - bad.size(), LIMIT_MILLIS, worst, report));
      assertTrue(bad.isEmpty(), "calls that did not fail with ManagerUnreachableException within "
          + LIMIT_MILLIS + " ms: " + bad);
    } finally {
      threads.forEach(Thread::interrupt);
      pool.terminate();
      long closeStart = System.nanoTime();
      manager.close();
      long closeMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - closeStart);
      assertTrue(closeMillis < 10_000, "Manager.close() of a dead manager took " + closeMillis + " ms");
    }
  }

  interface Call {
    void run() throws Exception;
  }

  private static Thread clientThread(String name, Map<String, String> outcomes, Call call) {
    Thread t = new Thread(() -> {
      int n = 0;
      try {
        while (true) {
          call.run();
          n++;
        }
      } catch (Exception | Error e) {
        outcomes.put(name, e.getClass().getName() + "|" + System.currentTimeMillis() + "|" + n + "|" + e.getMessage());
      }
    }, name);
    t.setDaemon(true);
    return t;
  }
}
