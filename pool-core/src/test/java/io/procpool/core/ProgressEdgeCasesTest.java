package io.procpool.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.procpool.api.AsyncResult;
import io.procpool.api.MapOptions;
import io.procpool.api.PoolTerminatedException;
import io.procpool.api.ProcessPool;
import io.procpool.api.Progress;
import io.procpool.api.TaskFailedException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Progress listeners and the callback executor at the edges found by trying them from outside: a
 * map that fails, an imap cut short by terminate() or close(), an executor that rejects. The logic
 * is the pool's, not the transport's, so the in-JVM transport shows it.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class ProgressEdgeCasesTest {

  private static List<Integer> range(int n) {
    return IntStream.range(0, n).boxed().collect(Collectors.toList());
  }

  private static ProcessPool pool(int n) {
    return ProcessPool.builder().transport("threads").processes(n).build();
  }

  /** A map that fails ends with a final call in which every item is done (failed if it has no value). */
  @Test
  void theFinalCallOfAFailedMapCountsItemsWithoutAValueAsFailed() {
    List<Progress> calls = Collections.synchronizedList(new ArrayList<>());
    try (ProcessPool pool = pool(2)) {
      assertThrows(TaskFailedException.class, () -> pool.map((Integer x) -> {
        if (x == 3) {
          throw new IllegalStateException("item 3");
        }
        return x;
      }, range(400), MapOptions.defaults().chunksize(1).onProgress(calls::add)));
      Progress last = calls.get(calls.size() - 1);
      assertEquals(400, last.total());
      assertEquals(400, last.done(), "final call of a failed map: " + last);
      assertTrue(last.failed() >= 1, last.toString());
      assertEquals(1.0, last.fraction());
    }
  }

  /**
   * terminate() while an imap over a collection has input left: iterating on fails with
   * PoolTerminatedException (not a message about non-collection inputs); the final call keeps the
   * collection's size as the total and counts the items that never ran as failed.
   */
  @Test
  void terminateDuringAnImapOverACollection() throws Exception {
    List<Progress> calls = Collections.synchronizedList(new ArrayList<>());
    ProcessPool pool = pool(2);
    Iterator<Integer> it = pool.imap((Integer x) -> x, range(2000), MapOptions.defaults().onProgress(calls::add));
    assertEquals(0, it.next());
    pool.terminate();
    PoolTerminatedException e = assertThrows(PoolTerminatedException.class, () -> {
      while (it.hasNext()) {
        it.next();
      }
    });
    assertFalse(e.getMessage().contains("not a Collection"), e.getMessage());
    Progress last = calls.get(calls.size() - 1);
    assertEquals(2000, last.total(), "the total of a collection stays known: " + last);
    assertEquals(2000, last.done(), "items that never ran count as failed: " + last);
  }

  /**
   * An imap over an endless input gets its final call when the pool is closed, before close()
   * returns; nothing is called after, even as the consumer drains what was submitted.
   */
  @Test
  void anEndlessImapGetsItsFinalCallWhenThePoolClosesAndNoneAfter() {
    List<Progress> calls = Collections.synchronizedList(new ArrayList<>());
    ProcessPool pool = pool(2);
    Iterable<Integer> endless = () -> IntStream.iterate(0, i -> i + 1).iterator();
    Iterator<Integer> it = pool.imap((Integer x) -> x, endless, MapOptions.defaults().onProgress(calls::add));
    for (int i = 0; i < 100; i++) {
      assertEquals(i, it.next());
    }
    pool.close();
    int atClose = calls.size();
    assertTrue(atClose >= 1, "the final call comes before close() returns");
    Progress last = calls.get(atClose - 1);
    assertEquals(-1, last.total(), last.toString());
    int drained = 100;
    try {
      while (it.hasNext()) {
        it.next();
        drained++;
      }
    } catch (io.procpool.api.PoolClosedException expected) {
      // iterating past what was submitted before close()
    }
    assertEquals(atClose, calls.size(), "a progress call after close() returned: " + calls.subList(atClose - 1, calls.size()));
    assertEquals(drained, last.completed(), "every submitted item had its outcome before close() returned: " + last);
  }

  /**
   * A map with a listener started from a callback (which waits for it on the callback thread)
   * completes: its listener runs elsewhere, and its final call still comes before it returns.
   */
  @Test
  void aMapWithAListenerStartedFromACallbackCompletes() throws Exception {
    List<Progress> calls = Collections.synchronizedList(new ArrayList<>());
    java.util.concurrent.CompletableFuture<List<Integer>> inner = new java.util.concurrent.CompletableFuture<>();
    try (ProcessPool pool = pool(2)) {
      pool.applyAsync(() -> 1, x -> {
        try {
          inner.complete(pool.map((Integer y) -> y, range(50), MapOptions.defaults().chunksize(5).onProgress(calls::add)));
        } catch (Throwable t) {
          inner.completeExceptionally(t);
        }
      }, null);
      assertEquals(range(50), inner.get(60, TimeUnit.SECONDS));
      assertEquals(50, calls.get(calls.size() - 1).done());
    }
  }

  /** With a callbackExecutor, close() returns after the future stages queued on it have run. */
  @Test
  void closeWaitsForFutureStagesOnTheCallbackExecutor() {
    java.util.concurrent.Executor slow =
        r -> java.util.concurrent.CompletableFuture.delayedExecutor(300, TimeUnit.MILLISECONDS).execute(r);
    java.util.concurrent.atomic.AtomicBoolean ran = new java.util.concurrent.atomic.AtomicBoolean();
    try (ProcessPool pool = ProcessPool.builder().transport("threads").processes(1).callbackExecutor(slow).build()) {
      pool.applyAsync(() -> 1).toCompletableFuture().thenRun(() -> ran.set(true));
    }
    assertTrue(ran.get(), "close() returned before the view's stage ran");
  }

  /**
   * A callbackExecutor that starts rejecting (shut down): callbacks go on, one at a time and in
   * order, on the pool's own thread, not on the threads that deliver results.
   */
  @Test
  void callbacksStayOneAtATimeWhenTheExecutorRejects() throws Exception {
    ExecutorService executor = Executors.newSingleThreadExecutor();
    AtomicInteger running = new AtomicInteger();
    AtomicInteger overlaps = new AtomicInteger();
    ConcurrentLinkedQueue<String> threads = new ConcurrentLinkedQueue<>();
    AtomicInteger ran = new AtomicInteger();
    try (ProcessPool pool = ProcessPool.builder().transport("threads").processes(2).callbackExecutor(executor).build()) {
      List<AsyncResult<Integer>> results = new ArrayList<>();
      for (int i = 0; i < 400; i++) {
        if (i == 150) {
          executor.shutdown();
        }
        int v = i;
        results.add(pool.applyAsync(() -> v, x -> {
          if (running.incrementAndGet() > 1) {
            overlaps.incrementAndGet();
          }
          threads.add(Thread.currentThread().getName());
          ran.incrementAndGet();
          running.decrementAndGet();
        }, null));
      }
      for (AsyncResult<Integer> r : results) {
        r.get(60, TimeUnit.SECONDS);
      }
    }
    assertEquals(400, ran.get(), "close() returns after every callback ran");
    assertEquals(0, overlaps.get(), "callbacks overlapped");
    assertTrue(threads.contains("procpool-callbacks-fallback"), "after the rejection: " + new java.util.TreeSet<>(threads));
    for (String t : threads) {
      assertTrue(!t.startsWith("procpool-threads") && !t.equals("main"), "a callback ran on " + t);
    }
  }
}
