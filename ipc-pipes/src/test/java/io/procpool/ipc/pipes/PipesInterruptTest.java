package io.procpool.ipc.pipes;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.procpool.api.ProcPoolException;
import io.procpool.api.ProcessPool;
import io.procpool.api.SerializableFunction;
import io.procpool.api.WorkerCrashedException;
import io.procpool.testkit.NoLeakedProcessesExtension;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Interrupting a caller blocked in a big {@code apply}, over and over, through the public API with
 * the pipes transport. The socket write of the task used to close the shared connection when the
 * interrupt landed during it: the worker then died and every caller's task failed as crashed. Now the
 * interrupted caller alone gets the interrupt behaviour {@link ProcessPool#apply} documents, and the
 * other callers' tasks complete on the same, unharmed workers.
 */
@ExtendWith(NoLeakedProcessesExtension.class)
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class PipesInterruptTest {
  private static final int BIG = 16 * 1024 * 1024;

  @Test
  void interruptingACallerInABigApplyHurtsNoOtherCallerAndNoWorker() throws Exception {
    try (ProcessPool pool = ProcessPool.builder().transport("pipes").processes(2).build()) {
      List<Long> workers = waitForWorkers(pool, 2);
      byte[] big = new byte[BIG];
      big[BIG - 1] = 7;
      SerializableFunction<byte[], Integer> size = b -> b.length + b[b.length - 1];
      ConcurrentLinkedQueue<Throwable> wrong = new ConcurrentLinkedQueue<>();
      AtomicInteger interruptedCalls = new AtomicInteger();
      AtomicInteger completedBig = new AtomicInteger();
      Thread bigCaller = new Thread(() -> {
        for (int i = 0; i < 40 && (i < 10 || interruptedCalls.get() < 5); i++) {
          try {
            int n = pool.apply(size, big);
            if (n != BIG + 7) {
              wrong.add(new AssertionError("big apply returned " + n));
            }
            completedBig.incrementAndGet();
          } catch (ProcPoolException e) {
            if (e instanceof WorkerCrashedException || !Thread.currentThread().isInterrupted()
                || !e.getMessage().contains("interrupted")) {
              wrong.add(e);
            } else {
              interruptedCalls.incrementAndGet();
            }
          } catch (Throwable e) {
            wrong.add(e);
          }
          Thread.interrupted(); // an interrupt may also have landed after the call returned
        }
      }, "big-caller");
      bigCaller.setDaemon(true);
      Thread interrupter = new Thread(() -> {
        while (bigCaller.getState() == Thread.State.NEW || bigCaller.isAlive()) {
          bigCaller.interrupt();
          LockSupport.parkNanos(2_000_000); // pacing, not a wait for a condition
        }
      }, "interrupter");
      interrupter.setDaemon(true);
      interrupter.start();
      bigCaller.start();

      // Other callers meanwhile: small tasks on the same pool, all of which must complete.
      List<Thread> others = new ArrayList<>();
      AtomicInteger smallDone = new AtomicInteger();
      for (int t = 0; t < 2; t++) {
        Thread other = new Thread(() -> {
          for (int i = 0; bigCaller.isAlive() || i < 20; i++) {
            try {
              int x = i;
              int r = pool.apply((Integer v) -> v * 2, x);
              if (r != 2 * x) {
                wrong.add(new AssertionError("small apply returned " + r + " for " + x));
              }
              smallDone.incrementAndGet();
            } catch (Throwable e) {
              wrong.add(e);
              return;
            }
          }
        }, "small-caller-" + t);
        other.setDaemon(true);
        others.add(other);
        other.start();
      }
      bigCaller.join(TimeUnit.SECONDS.toMillis(150));
      for (Thread other : others) {
        other.join(TimeUnit.SECONDS.toMillis(30));
      }
      interrupter.join(TimeUnit.SECONDS.toMillis(10));
      assertTrue(!bigCaller.isAlive() && others.stream().noneMatch(Thread::isAlive), "the callers finished");
      assertEquals(List.of(), new ArrayList<>(wrong), "every call either completed or was interrupted cleanly");
      assertTrue(interruptedCalls.get() > 0, "some big applies were interrupted");
      assertEquals(new HashSet<>(workers), new HashSet<>(pool.workerPids()), "no worker crashed or was replaced");
      assertEquals(BIG + 7, (int) pool.apply(size, big), "the pool still runs big tasks");
      System.out.printf("pipes interrupt storm on a pool: %d big applies interrupted, %d completed, %d small ones%n",
          interruptedCalls.get(), completedBig.get(), smallDone.get());
    }
  }

  private static List<Long> waitForWorkers(ProcessPool pool, int n) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (pool.workerPids().size() < n && System.nanoTime() < deadline) {
      Thread.sleep(20); // polling a condition with a deadline
    }
    assertEquals(n, pool.workerPids().size(), "workers started");
    return pool.workerPids();
  }
}
