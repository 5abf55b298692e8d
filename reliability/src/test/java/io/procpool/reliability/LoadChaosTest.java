package io.procpool.reliability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.procpool.api.ManagedQueue;
import io.procpool.api.Manager;
import io.procpool.api.ProcessPool;
import io.procpool.testkit.NoLeakedProcessesExtension;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Load: 4 client threads submit applyAsync at full speed for {@code procpool.load.seconds}, while 2
 * producers and 2 consumers use a managed queue. Nothing lost, nothing duplicated, no deadlock: a
 * watchdog dumps all threads and fails the test if progress stops for 10 s.
 */
@ExtendWith(NoLeakedProcessesExtension.class)
class LoadChaosTest {
  static final int CLIENTS = 4;
  static final int PER_CLIENT_WINDOW = 1000;
  static final long STALL_MILLIS = 10_000;

  static List<String> transports() {
    List<String> t = new ArrayList<>(Rel.processTransports());
    t.add("threads");
    return t;
  }

  @ParameterizedTest(name = "load[{0}]")
  @MethodSource("transports")
  @Timeout(value = 180, unit = TimeUnit.SECONDS)
  void nothingLostNothingDuplicatedNoDeadlock(String transport) throws Exception {
    String managerTransport = transport.equals("threads") ? "pipes" : transport;
    AtomicLong submitted = new AtomicLong();
    AtomicLong completed = new AtomicLong();
    AtomicLong produced = new AtomicLong();
    AtomicLong consumed = new AtomicLong();
    AtomicLong duplicates = new AtomicLong();
    ConcurrentLinkedQueue<String> problems = new ConcurrentLinkedQueue<>();
    ConcurrentHashMap<Long, Boolean> seen = new ConcurrentHashMap<>();
    AtomicBoolean running = new AtomicBoolean(true);
    AtomicBoolean stalled = new AtomicBoolean();
    List<Thread> threads = new ArrayList<>();
    try (Manager manager = Manager.builder().transport(managerTransport).build();
         ProcessPool pool = ProcessPool.builder().transport(transport).processes(2).build()) {
      ManagedQueue<Long> q = manager.queue("load", 1000);
      pool.apply(Tasks::pid);
      for (int c = 0; c < CLIENTS; c++) {
        final long base = (long) c << 40;
        threads.add(new Thread(() -> {
          Semaphore window = new Semaphore(PER_CLIENT_WINDOW);
          long[] done = new long[1];
          long n = 0;
          try {
            while (running.get()) {
              if (!window.tryAcquire(1, TimeUnit.SECONDS)) {
                continue;
              }
              final int i = (int) (n++ & 0xFFFFFFF);
              submitted.incrementAndGet();
              pool.applyAsync(Tasks::compute, i, v -> {
                if (v != Tasks.expected(i)) {
                  problems.add("wrong value " + v + " for " + i);
                }
                completed.incrementAndGet();
                window.release();
              }, e -> {
                problems.add("task failed: " + e);
                completed.incrementAndGet();
                window.release();
              });
            }
          } catch (Throwable e) {
            problems.add("client " + base + ": " + e);
          }
        }, "load-client-" + c));
      }
      for (int p = 0; p < 2; p++) {
        final long base = (long) p << 40;
        threads.add(new Thread(() -> {
          long n = 0;
          try {
            while (running.get()) {
              try {
                q.put(base + n, Duration.ofSeconds(1));
                n++;
                produced.incrementAndGet();
              } catch (io.procpool.api.QueueFullException full) {
                // consumers are slow: try again
              }
            }
          } catch (Throwable e) {
            problems.add("producer: " + e);
          }
        }, "load-producer-" + p));
      }
      for (int p = 0; p < 2; p++) {
        threads.add(new Thread(() -> {
          try {
            while (true) {
              Long item;
              try {
                item = q.get(Duration.ofMillis(500));
              } catch (io.procpool.api.QueueEmptyException empty) {
                if (!running.get()) {
                  return;
                }
                continue;
              }
              if (seen.putIfAbsent(item, Boolean.TRUE) != null) {
                duplicates.incrementAndGet();
              }
              consumed.incrementAndGet();
            }
          } catch (Throwable e) {
            problems.add("consumer: " + e);
          }
        }, "load-consumer-" + p));
      }
      threads.forEach(t -> t.setDaemon(true));
      Thread watchdog = new Thread(() -> {
        long last = -1;
        long lastChange = System.nanoTime();
        while (running.get() || completed.get() < submitted.get()) {
          long now = completed.get() + consumed.get();
          if (now != last) {
            last = now;
            lastChange = System.nanoTime();
          } else if (System.nanoTime() - lastChange > TimeUnit.MILLISECONDS.toNanos(STALL_MILLIS)) {
            stalled.set(true);
            problems.add("no progress for " + STALL_MILLIS + " ms (completed " + completed + " of " + submitted
                + ", consumed " + consumed + " of " + produced + ")\n" + Rel.threadDump());
            running.set(false);
            return;
          }
          Rel.pause(100);
        }
      }, "load-watchdog");
      watchdog.setDaemon(true);
      long start = System.nanoTime();
      threads.forEach(Thread::start);
      watchdog.start();
      long end = start + TimeUnit.SECONDS.toNanos(Rel.loadSeconds());
      while (System.nanoTime() < end && running.get()) {
        Rel.pause(100);
      }
      running.set(false);
      for (Thread t : threads) {
        t.join(30_000);
      }
      boolean drained = Rel.await(Duration.ofSeconds(30), () -> completed.get() >= submitted.get() || stalled.get());
      watchdog.join(15_000);
      double seconds = (System.nanoTime() - start) / 1e9;
      // What the producers put and the consumers did not take yet is still in the queue: count it.
      List<Long> rest = new ArrayList<>();
      q.asBlockingQueue().drainTo(rest);
      for (Long item : rest) {
        if (seen.putIfAbsent(item, Boolean.TRUE) != null) {
          duplicates.incrementAndGet();
        }
      }
      long lost = produced.get() - seen.size();
      Rel.summary(String.format("load[%s]: %.1f s, %d tasks by %d clients (%.0f/s), %d lost, %d failed; queue[%s]: %d items "
              + "by 2 producers to 2 consumers, %d lost, %d duplicated; stalled: %s",
          transport, seconds, completed.get(), CLIENTS, completed.get() / seconds, submitted.get() - completed.get(),
          problems.stream().filter(x -> x.startsWith("task failed") || x.startsWith("wrong")).count(),
          managerTransport, produced.get(), lost, duplicates.get(), stalled.get()));
      if (stalled.get()) {
        fail(String.join("\n", problems));
      }
      assertTrue(drained, "results still missing: " + (submitted.get() - completed.get()));
      assertTrue(problems.isEmpty(), String.join("\n", problems));
      assertEquals(0, duplicates.get(), "duplicated queue items");
      assertEquals(0, lost, "lost queue items");
      assertEquals(submitted.get(), completed.get());
    } finally {
      running.set(false);
    }
  }
}
