package io.procpool.reliability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.procpool.api.ProcessPool;
import io.procpool.api.WorkerCrashedException;
import io.procpool.testkit.NoLeakedProcessesExtension;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Many small tasks while a chaos thread SIGKILLs random workers: every result completes exactly
 * once, with the right value or {@link WorkerCrashedException} (or, with {@code retryOnCrash}, always
 * with the right value); nothing hangs; the pool ends at full size.
 */
@ExtendWith(NoLeakedProcessesExtension.class)
class ChaosTest {
  static final int PROCESSES = 3;
  /** Results in flight at once: enough to keep every worker's credit full, small enough to bound memory. */
  static final int WINDOW = 4096;
  /** How long after the last submit every result must have completed. */
  static final Duration DRAIN = Duration.ofSeconds(60);

  static List<String> transports() {
    return Rel.processTransports();
  }

  @ParameterizedTest(name = "chaos[{0}]")
  @MethodSource("transports")
  @Timeout(value = 240, unit = TimeUnit.SECONDS)
  void everyResultCompletesExactlyOnceWhileWorkersAreKilled(String transport) throws Exception {
    run(transport, false, Rel.chaosTasks());
  }

  @ParameterizedTest(name = "chaos-retry[{0}]")
  @MethodSource("transports")
  @Timeout(value = 240, unit = TimeUnit.SECONDS)
  void withRetryOnCrashNothingIsLost(String transport) throws Exception {
    run(transport, true, Rel.retryTasks());
  }

  private static void run(String transport, boolean retry, int tasks) throws Exception {
    ProcessPool.Builder b = ProcessPool.builder().transport(transport).processes(PROCESSES);
    if (retry) {
      b.retryOnCrash(20);
    }
    ProcessPool pool = b.build();
    AtomicIntegerArray completions = new AtomicIntegerArray(tasks);
    AtomicInteger ok = new AtomicInteger();
    AtomicInteger crashed = new AtomicInteger();
    AtomicInteger wrong = new AtomicInteger();
    AtomicInteger duplicated = new AtomicInteger();
    AtomicInteger completed = new AtomicInteger();
    ConcurrentLinkedQueue<String> problems = new ConcurrentLinkedQueue<>();
    Semaphore window = new Semaphore(WINDOW);
    AtomicBoolean chaos = new AtomicBoolean(true);
    AtomicLong kills = new AtomicLong();
    Thread killer = new Thread(() -> {
      while (chaos.get()) {
        Rel.pause(Rel.killEveryMillis());
        List<Long> pids = pool.workerPids();
        if (!chaos.get() || pids.size() < 2) {
          continue; // keep one worker serving so that the run makes progress
        }
        long pid = pids.get(ThreadLocalRandom.current().nextInt(pids.size()));
        if (ProcessHandle.of(pid).map(ProcessHandle::destroyForcibly).orElse(false)) {
          kills.incrementAndGet();
        }
      }
    }, "chaos-killer");
    long start = System.nanoTime();
    try {
      pool.apply(Tasks::pid); // the first worker is up: start the chaos with the work
      killer.start();
      for (int n = 0; n < tasks; n++) {
        final int i = n;
        if (!window.tryAcquire(DRAIN.toSeconds(), TimeUnit.SECONDS)) {
          fail("no result completed for " + DRAIN + " (" + completed.get() + " of " + n + " submitted done)\n"
              + Rel.threadDump());
        }
        pool.applyAsync(Tasks::compute, i,
            v -> {
              if (completions.incrementAndGet(i) > 1) {
                duplicated.incrementAndGet();
                problems.add("task " + i + " completed again with " + v);
                return;
              }
              if (v != Tasks.expected(i)) {
                wrong.incrementAndGet();
                problems.add("task " + i + " returned " + v);
              }
              ok.incrementAndGet();
              completed.incrementAndGet();
              window.release();
            },
            e -> {
              if (completions.incrementAndGet(i) > 1) {
                duplicated.incrementAndGet();
                problems.add("task " + i + " completed again with " + e);
                return;
              }
              if (e instanceof WorkerCrashedException && !retry) {
                crashed.incrementAndGet();
              } else {
                wrong.incrementAndGet();
                if (problems.size() < 20) {
                  problems.add("task " + i + " failed with " + e);
                }
              }
              completed.incrementAndGet();
              window.release();
            });
      }
      chaos.set(false);
      killer.join(10_000);
      boolean drained = Rel.await(DRAIN, () -> completed.get() >= tasks);
      double seconds = (System.nanoTime() - start) / 1e9;
      Rel.pause(200); // late duplicates, if any, arrive now
      int hung = 0;
      for (int i = 0; i < tasks; i++) {
        if (completions.get(i) == 0) {
          hung++;
          if (problems.size() < 40) {
            problems.add("task " + i + " never completed");
          }
        }
      }
      int lost = retry ? crashed.get() + wrong.get() + hung : hung;
      boolean fullSize = Rel.await(Duration.ofSeconds(60), () -> pool.workerPids().size() == pool.processes());
      Rel.summary(String.format("%s[%s]: %d tasks, %d workers killed, %d ok, %d WorkerCrashed, %d lost, "
              + "%d duplicated, %d wrong, %d hung, %.1f s (%.0f tasks/s), full size after: %s",
          retry ? "chaos-retry" : "chaos", transport, tasks, kills.get(), ok.get(), crashed.get(), lost,
          duplicated.get(), wrong.get(), hung, seconds, tasks / seconds, fullSize));
      assertTrue(drained && hung == 0, hung + " results never completed: " + problems + "\n" + (hung > 0 ? Rel.threadDump() : ""));
      assertEquals(0, duplicated.get(), "duplicated completions: " + problems);
      assertEquals(0, wrong.get(), "wrong values or unexpected failures: " + problems);
      if (retry) {
        assertEquals(tasks, ok.get(), "with retryOnCrash every task must succeed: " + problems);
      }
      assertTrue(kills.get() > 0, "the chaos thread killed no worker");
      assertTrue(fullSize, "pool not back at full size: " + pool.workerPids());
    } finally {
      chaos.set(false);
      killer.join(10_000);
      pool.terminate();
    }
  }
}
