package io.procpool.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.procpool.api.AsyncResult;
import io.procpool.api.ManagedQueue;
import io.procpool.api.Manager;
import io.procpool.api.ManagerUnreachableException;
import io.procpool.api.ProcPoolException;
import io.procpool.api.ProcessPool;
import io.procpool.api.QueueEmptyException;
import io.procpool.api.QueueFullException;
import io.procpool.api.spi.CodecRegistry;
import io.procpool.api.spi.Connection;
import io.procpool.api.spi.TransportOptions;
import io.procpool.api.spi.TransportRegistry;
import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.InputStreamReader;
import java.io.NotSerializableException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.io.Serializable;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The contract of {@link ManagedQueue} (Python's {@code Manager().Queue()} semantics) and of the
 * manager process, for one transport: the same transport serves the manager and the pools of the
 * tests. A transport runs it with a subclass that names itself in {@link #transport()}:
 *
 * <pre>{@code
 * class MyManagedQueueContractTest extends AbstractManagedQueueContractTest {
 *   @Override protected String transport() { return "my-transport"; }
 * }
 * }</pre>
 *
 * <p>The test classpath needs the transport, {@code io.procpool:pool-core} (the pool) and
 * {@code io.procpool:manager-queue} (the manager); worker and helper JVMs get the test's classpath.
 *
 * <p>A few tests look inside the manager, beyond the public API: the manager process's pid (to kill it
 * or to see it exit) and whether it has freed a queue. They ask a {@link ManagerProbe}, which the
 * subclass returns from {@link #managerProbe()}; without one they are skipped with the reason, and
 * every other test runs. manager-queue's own tests supply it.
 *
 * <p>Every test ends the processes it starts (checked by {@link NoLeakedProcessesExtension}) and
 * closes its managers and pools; one manager, started before the first test and closed after the
 * last, serves the tests that need no manager of their own. Waits are bounded, with generous
 * deadlines; fixed pauses are left only where nothing observable marks the moment (that a call is
 * still blocked, that a request or a closed connection has reached the manager).
 */
@ExtendWith(NoLeakedProcessesExtension.class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(value = 120, unit = TimeUnit.SECONDS)
public abstract class AbstractManagedQueueContractTest {

  /** The transport under test, e.g. {@code "pipes"}. */
  protected abstract String transport();

  /**
   * The probe into the manager implementation on the classpath that the tests needing one use, or
   * {@code null} (the default): then those tests are skipped, each with the reason.
   */
  protected ManagerProbe managerProbe() {
    return null;
  }

  /** The {@link #managerProbe()}; aborts (skips) the calling test if there is none. */
  private ManagerProbe probe(String what) {
    ManagerProbe probe = managerProbe();
    if (probe == null) {
      Assumptions.abort("this test needs " + what + ", which the public API does not show, and "
          + getClass().getSimpleName() + " supplies no ManagerProbe (override managerProbe())");
    }
    return probe;
  }

  private Manager manager;

  @BeforeAll
  void startManager() {
    manager = Manager.builder().transport(transport()).classpath(TestClasspath.jarred()).build();
  }

  @AfterAll
  void stopManager() {
    if (manager != null) {
      manager.close();
    }
  }

  private static void assertBlocked(CompletableFuture<?> f) throws InterruptedException {
    Thread.sleep(250);
    assertFalse(f.isDone(), "the call should still be blocked");
  }

  private static <T> CompletableFuture<T> inThread(java.util.concurrent.Callable<T> c) {
    CompletableFuture<T> f = new CompletableFuture<>();
    Thread t = new Thread(() -> {
      try {
        f.complete(c.call());
      } catch (Throwable e) {
        f.completeExceptionally(e);
      }
    }, "test-caller");
    t.setDaemon(true);
    t.start();
    return f;
  }

  // ------------------------------------------------------------------ queue semantics

  @Test
  void fifoOrder() {
    ManagedQueue<Integer> q = manager.queue();
    for (int i = 0; i < 100; i++) {
      q.put(i);
    }
    assertEquals(100, q.qsize());
    for (int i = 0; i < 100; i++) {
      assertEquals(i, q.get());
    }
    assertTrue(q.empty());
  }

  @Test
  void itemsOfAnySerializableTypeAndNull() {
    ManagedQueue<Object> q = manager.queue();
    q.put(List.of("a", 1, 2.5));
    q.put(null);
    q.put(new byte[] {1, 2});
    assertEquals(List.of("a", 1, 2.5), q.get());
    assertNull(q.get());
    assertEquals(2, ((byte[]) q.get()).length);
  }

  @Test
  void maxsizeBlocksPutUntilAGetMakesRoom() throws Exception {
    ManagedQueue<String> q = manager.queue(2);
    assertEquals(2, q.maxsize());
    q.put("a");
    q.put("b");
    assertTrue(q.full());
    assertThrows(QueueFullException.class, () -> q.putNowait("x"));
    CompletableFuture<Object> put = inThread(() -> {
      q.put("c");
      return null;
    });
    assertBlocked(put);
    assertEquals("a", q.get());
    put.get(5, TimeUnit.SECONDS);
    assertEquals(List.of("b", "c"), List.of(q.get(), q.get()));
  }

  @Test
  void zeroOrNegativeMaxsizeIsUnbounded() {
    ManagedQueue<Integer> q = manager.queue(-1);
    for (int i = 0; i < 1000; i++) {
      q.putNowait(i);
    }
    assertFalse(q.full());
    assertEquals(1000, q.qsize());
  }

  @Test
  void putTimesOutWithQueueFullException() {
    ManagedQueue<String> q = manager.queue(1);
    q.put("x");
    long t0 = System.nanoTime();
    QueueFullException e = assertThrows(QueueFullException.class, () -> q.put("y", Duration.ofMillis(300)));
    long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
    assertTrue(ms >= 290 && ms < 2000, "waited " + ms + " ms");
    assertEquals(manager.address(), e.managerAddress());
    assertEquals(1, q.qsize());
  }

  @Test
  void getTimesOutWithQueueEmptyException() {
    ManagedQueue<String> q = manager.queue();
    long t0 = System.nanoTime();
    assertThrows(QueueEmptyException.class, () -> q.get(Duration.ofMillis(300)));
    long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
    assertTrue(ms >= 290 && ms < 2000, "waited " + ms + " ms");
    q.put("late");
    assertEquals("late", q.get(Duration.ofSeconds(1)));
  }

  @Test
  void nowaitVariantsAndZeroTimeouts() {
    ManagedQueue<String> q = manager.queue(1);
    assertThrows(QueueEmptyException.class, q::getNowait);
    assertThrows(QueueEmptyException.class, () -> q.get(Duration.ZERO));
    q.putNowait("a");
    assertThrows(QueueFullException.class, () -> q.putNowait("b"));
    assertThrows(QueueFullException.class, () -> q.put("b", Duration.ZERO));
    assertThrows(IllegalArgumentException.class, () -> q.get(Duration.ofMillis(-1)));
    assertEquals("a", q.getNowait());
  }

  @Test
  void qsizeEmptyFull() {
    ManagedQueue<Integer> q = manager.queue(3);
    assertTrue(q.empty());
    assertFalse(q.full());
    assertEquals(0, q.qsize());
    q.put(1);
    q.put(2);
    assertFalse(q.empty());
    assertFalse(q.full());
    assertEquals(2, q.qsize());
    q.put(3);
    assertTrue(q.full());
    assertEquals(3, q.qsize());
  }

  @Test
  void joinReturnsOnlyAfterEveryTaskDone() throws Exception {
    ManagedQueue<Integer> q = manager.queue();
    q.join(); // nothing put: returns at once
    q.put(1);
    q.put(2);
    CompletableFuture<Object> join = inThread(() -> {
      q.join();
      return null;
    });
    q.get();
    q.get();
    q.taskDone();
    assertBlocked(join);
    q.taskDone();
    join.get(5, TimeUnit.SECONDS);
    IllegalStateException e = assertThrows(IllegalStateException.class, q::taskDone);
    assertTrue(e.getMessage().contains("taskDone"), e.getMessage());
  }

  @Test
  void namedQueuesAreSharedBetweenClients() {
    String name = "jobs-" + UUID.randomUUID();
    try (Manager a = Manager.connect(manager.address(), manager.authKey());
         Manager b = Manager.connect(manager.address(), manager.authKey())) {
      ManagedQueue<String> qa = a.queue(name, 5);
      ManagedQueue<String> qb = b.queue(name);
      assertEquals(5, qb.maxsize());
      qa.put("hello");
      assertEquals("hello", qb.get(Duration.ofSeconds(5)));
      assertThrows(IllegalArgumentException.class, () -> b.queue(name, 6));
      assertEquals(5, b.queue(name, 5).maxsize());
    }
    // The connected handles are closed; the manager and its queues are not.
    assertEquals(0, manager.<String>queue(name).qsize());
  }

  @Test
  void interruptedGetIsWithdrawnAndLosesNoItem() throws Exception {
    ManagedQueue<String> q = manager.queue();
    AtomicReference<Thread> caller = new AtomicReference<>();
    CompletableFuture<String> get = inThread(() -> {
      caller.set(Thread.currentThread());
      return q.get();
    });
    assertBlocked(get);
    caller.get().interrupt();
    ExecutionException e = assertThrows(ExecutionException.class, () -> get.get(5, TimeUnit.SECONDS));
    assertInstanceOf(ProcPoolException.class, e.getCause());
    assertInstanceOf(InterruptedException.class, e.getCause().getCause());
    q.put("kept");
    assertEquals("kept", q.get(Duration.ofSeconds(2)));
  }

  // ------------------------------------------------------------------ the BlockingQueue view

  @Test
  void blockingQueueViewFollowsTheQueueContract() throws Exception {
    BlockingQueue<String> v = manager.<String>queue(3).asBlockingQueue();
    assertNull(v.poll());
    assertNull(v.peek());
    assertEquals(3, v.remainingCapacity());
    assertTrue(v.offer("a"));
    assertTrue(v.add("b"));
    v.put("c");
    assertFalse(v.offer("d"));
    assertThrows(IllegalStateException.class, () -> v.add("d"));
    assertFalse(v.offer("d", 100, TimeUnit.MILLISECONDS));
    assertThrows(NullPointerException.class, () -> v.offer(null));
    assertEquals(3, v.size());
    assertEquals(0, v.remainingCapacity());
    assertEquals("a", v.peek());
    assertEquals("a", v.element());
    assertTrue(v.contains("b"));
    assertEquals(List.of("a", "b", "c"), new ArrayList<>(v)); // snapshot iterator
    assertThrows(UnsupportedOperationException.class, () -> v.remove("b"));
    assertEquals("a", v.remove());
    assertEquals("b", v.take());
    assertEquals("c", v.poll(1, TimeUnit.SECONDS));
    assertNull(v.poll(100, TimeUnit.MILLISECONDS));
    assertThrows(java.util.NoSuchElementException.class, v::remove);
    assertThrows(java.util.NoSuchElementException.class, v::element);
    assertTrue(v.isEmpty());
    v.addAll(List.of("x", "y", "z"));
    List<String> sink = new ArrayList<>();
    assertEquals(2, v.drainTo(sink, 2));
    assertEquals(1, v.drainTo(sink));
    assertEquals(List.of("x", "y", "z"), sink);
    assertThrows(IllegalArgumentException.class, () -> v.drainTo(v));
    v.addAll(List.of("p", "q"));
    v.clear();
    assertEquals(0, v.size());
  }

  @Test
  void blockingQueueViewTakeIsInterruptible() throws Exception {
    BlockingQueue<String> v = manager.<String>queue().asBlockingQueue();
    AtomicReference<Thread> caller = new AtomicReference<>();
    CompletableFuture<String> take = inThread(() -> {
      caller.set(Thread.currentThread());
      return v.take();
    });
    assertBlocked(take);
    caller.get().interrupt();
    ExecutionException e = assertThrows(ExecutionException.class, () -> take.get(5, TimeUnit.SECONDS));
    assertInstanceOf(InterruptedException.class, e.getCause());
    v.put("kept");
    assertEquals("kept", v.poll(2, TimeUnit.SECONDS));
  }

  // ------------------------------------------------------------------ across processes

  record Args(ManagedQueue<Long> ready, ManagedQueue<String> q) implements Serializable {}

  static String blockingGet(Args a) {
    a.ready().put(ProcessHandle.current().pid());
    try {
      return "got " + a.q().get();
    } catch (ManagerUnreachableException e) {
      return "unreachable";
    }
  }

  static String putFromWorker(ManagedQueue<String> q) {
    q.put("from " + ProcessHandle.current().pid());
    return "ok";
  }

  @Test
  void blockedGetIsReleasedByAPutFromAnotherProcess() throws Exception {
    ManagedQueue<String> q = manager.queue();
    CompletableFuture<String> get = inThread(q::get);
    assertBlocked(get);
    try (ProcessPool pool = ProcessPool.builder().processes(1).transport(transport()).workerClasspath(TestClasspath.jarred()).build()) {
      long workerPid = pool.workerPids().get(0);
      assertEquals("ok", pool.apply(AbstractManagedQueueContractTest::putFromWorker, q));
      assertEquals("from " + workerPid, get.get(5, TimeUnit.SECONDS));
    }
  }

  @Test
  void aClientThatDiesWhileBlockedInGetLeavesNoStuckState() throws Exception {
    ManagedQueue<Long> ready = manager.queue();
    ManagedQueue<String> q = manager.queue();
    try (ProcessPool pool = ProcessPool.builder().processes(1).transport(transport()).workerClasspath(TestClasspath.jarred()).build()) {
      AsyncResult<String> dead = pool.applyAsync(AbstractManagedQueueContractTest::blockingGet, new Args(ready, q));
      long workerPid = ready.get(Duration.ofSeconds(30));
      Thread.sleep(200); // let the worker's get reach the manager
      CompletableFuture<String> live = inThread(q::get); // queued behind the dying worker's get
      assertBlocked(live);
      ProcessHandle.of(workerPid).ifPresent(ProcessHandle::destroyForcibly);
      assertThrows(ExecutionException.class, () -> dead.get(10, TimeUnit.SECONDS));
      Thread.sleep(200); // the manager notices the closed connection
      q.put("one");
      assertEquals("one", live.get(5, TimeUnit.SECONDS), "the live getter receives the item");
      q.put("two");
      assertEquals(1, q.qsize(), "no item vanished into the dead client");
      assertEquals("two", q.getNowait());
    }
  }

  record Produce(ManagedQueue<Integer> q, int base, int count) implements Serializable {}

  record Consume(ManagedQueue<Integer> q, int count) implements Serializable {}

  static Integer produce(Produce p) {
    for (int i = 0; i < p.count(); i++) {
      p.q().put(p.base() + i);
    }
    return p.count();
  }

  static ArrayList<Integer> consume(Consume c) {
    ArrayList<Integer> got = new ArrayList<>(c.count());
    for (int i = 0; i < c.count(); i++) {
      got.add(c.q().get());
    }
    return got;
  }

  @Test
  void hundredThousandItemsFromTwoProducersToTwoConsumersArriveExactlyOnce() throws Exception {
    int perProducer = 50_000;
    ManagedQueue<Integer> q = manager.queue(1000);
    try (ProcessPool pool = ProcessPool.builder().processes(4).transport(transport()).workerClasspath(TestClasspath.jarred()).build()) {
      long t0 = System.nanoTime();
      AsyncResult<ArrayList<Integer>> c1 = pool.applyAsync(AbstractManagedQueueContractTest::consume,
          new Consume(q, perProducer));
      AsyncResult<ArrayList<Integer>> c2 = pool.applyAsync(AbstractManagedQueueContractTest::consume,
          new Consume(q, perProducer));
      AsyncResult<Integer> p1 = pool.applyAsync(AbstractManagedQueueContractTest::produce,
          new Produce(q, 0, perProducer));
      AsyncResult<Integer> p2 = pool.applyAsync(AbstractManagedQueueContractTest::produce,
          new Produce(q, 1_000_000, perProducer));
      assertEquals(perProducer, p1.get(100, TimeUnit.SECONDS));
      assertEquals(perProducer, p2.get(100, TimeUnit.SECONDS));
      List<Integer> all = new ArrayList<>(c1.get(100, TimeUnit.SECONDS));
      all.addAll(c2.get(100, TimeUnit.SECONDS));
      double s = (System.nanoTime() - t0) / 1e9;
      System.out.printf("[%s] 100000 items, 2 producer and 2 consumer workers, maxsize 1000: %.2f s, %.0f items/s%n",
          transport(), s, 100_000 / s);
      Collections.sort(all);
      List<Integer> expected = new ArrayList<>();
      for (int i = 0; i < perProducer; i++) {
        expected.add(i);
      }
      for (int i = 0; i < perProducer; i++) {
        expected.add(1_000_000 + i);
      }
      assertEquals(expected, all);
      assertTrue(q.empty());
    }
  }

  @Test
  void putGetPairsPerSecondFromTheParent() {
    ManagedQueue<Integer> q = manager.queue();
    for (int i = 0; i < 2000; i++) { // warm-up
      q.put(i);
      q.get();
    }
    int n = 20_000;
    long t0 = System.nanoTime();
    for (int i = 0; i < n; i++) {
      q.put(i);
      assertEquals(i, q.get());
    }
    double s = (System.nanoTime() - t0) / 1e9;
    System.out.printf("[%s] put+get pairs from the parent, one thread: %.0f pairs/s (%.1f µs per round trip)%n",
        transport(), n / s, s * 1e6 / (2 * n));
  }

  // ------------------------------------------------------------------ the manager process

  @Test
  void killingTheManagerFailsABlockedWorkerGetWithin2Seconds() throws Exception {
    ManagerProbe probe = probe("the manager process's pid");
    Manager own = Manager.builder().transport(transport()).classpath(TestClasspath.jarred()).build();
    try (ProcessPool pool = ProcessPool.builder().processes(1).transport(transport()).workerClasspath(TestClasspath.jarred()).build()) {
      ManagedQueue<Long> ready = own.queue();
      ManagedQueue<String> q = own.queue();
      AsyncResult<String> r = pool.applyAsync(AbstractManagedQueueContractTest::blockingGet, new Args(ready, q));
      ready.get(Duration.ofSeconds(30));
      Thread.sleep(200);
      long pid = probe.pid(own);
      long t0 = System.nanoTime();
      ProcessHandle.of(pid).orElseThrow().destroyForcibly();
      String result = r.get(10, TimeUnit.SECONDS);
      long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
      System.out.printf("[%s] SIGKILL of the manager -> the worker's blocked get() failed after %d ms%n",
          transport(), ms);
      assertEquals("unreachable", result);
      assertTrue(ms < 2000, "took " + ms + " ms");
      long t1 = System.nanoTime();
      assertThrows(ManagerUnreachableException.class, q::qsize);
      assertTrue(System.nanoTime() - t1 < TimeUnit.SECONDS.toNanos(2), "a new call fails fast");
    } finally {
      own.close();
    }
  }

  @Test
  void theManagerExitsWithin2SecondsWhenItsParentDies() throws Exception {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Process parent = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
        ManagerParentMain.class.getName(), transport())
        .redirectError(ProcessBuilder.Redirect.INHERIT)
        .start();
    long managerPid = -1;
    try {
      BufferedReader out = new BufferedReader(new InputStreamReader(parent.getInputStream(), StandardCharsets.UTF_8));
      String line = out.readLine();
      assertTrue(line != null && line.startsWith("MANAGER "), "parent said: " + line);
      managerPid = Long.parseLong(line.split(" ")[1]);
      assertTrue(isRunning(managerPid), "the manager runs");
      long t0 = System.nanoTime();
      parent.destroyForcibly();
      while (isRunning(managerPid) && System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(5)) {
        ProcessSupport.pause();
      }
      long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
      System.out.printf("[%s] the manager exited %d ms after its parent was killed%n", transport(), ms);
      assertFalse(isRunning(managerPid), "the manager outlived its parent");
      assertTrue(ms < 2000, "took " + ms + " ms");
    } finally {
      parent.destroyForcibly();
      if (managerPid > 0) {
        ProcessHandle.of(managerPid).ifPresent(ProcessHandle::destroyForcibly);
      }
      parent.waitFor(5, TimeUnit.SECONDS);
    }
  }

  /** Running, not a zombie (an orphaned manager may not be reaped at once). */
  private static boolean isRunning(long pid) {
    return ProcessSupport.isRunning(pid);
  }

  @Test
  void aWrongAuthKeyIsRefusedWithAClearError() {
    byte[] wrong = manager.authKey();
    wrong[0] ^= 1;
    ManagerUnreachableException e =
        assertThrows(ManagerUnreachableException.class, () -> Manager.connect(manager.address(), wrong));
    assertTrue(e.getMessage().contains("refused"), e.getMessage());
    assertEquals(manager.address(), e.managerAddress());
    // The right key still works.
    try (Manager ok = Manager.connect(manager.address(), manager.authKey())) {
      ok.queue().put("x");
    }
  }

  @Test
  void closeEndsTheManagerProcess() throws Exception {
    ManagerProbe probe = probe("the manager process's pid");
    Manager own = Manager.builder().transport(transport()).classpath(TestClasspath.jarred()).build();
    long pid = probe.pid(own);
    ManagedQueue<String> q = own.queue();
    q.put("x");
    CompletableFuture<String> blocked = inThread(() -> {
      q.get();
      return q.get();
    });
    long t0 = System.nanoTime();
    own.close();
    long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
    assertFalse(isRunning(pid), "the manager process has exited");
    assertTrue(ms < 5000, "close took " + ms + " ms");
    ExecutionException e = assertThrows(ExecutionException.class, () -> blocked.get(5, TimeUnit.SECONDS));
    assertInstanceOf(ManagerUnreachableException.class, e.getCause());
    assertThrows(ManagerUnreachableException.class, q::qsize);
    own.close(); // idempotent
  }

  @Test
  void builderSettingsAreSetOnceAndValidated() {
    assertThrows(IllegalStateException.class, () -> Manager.builder().transport("pipes").transport("pipes"));
    assertThrows(IllegalArgumentException.class, () -> Manager.builder().transport("threads"));
    assertThrows(IllegalArgumentException.class, () -> Manager.builder().transport("no-such").build());
    assertThrows(IllegalArgumentException.class, () -> Manager.connect("no-colon", new byte[32]));
    assertThrows(IllegalArgumentException.class, () -> manager.queue(""));
  }

  // ------------------------------------------------------------------ issue 10: lifetime, sizes, keys

  private boolean exists(ManagerProbe probe, long queueId) {
    return probe.queueExists(manager, queueId);
  }

  /** Waits (collecting garbage meanwhile) until {@code condition} holds; fails after 60 s. */
  private static void awaitWithGc(String what, BooleanSupplier condition) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (!condition.getAsBoolean()) {
      assertTrue(System.nanoTime() < deadline, "timed out waiting until " + what);
      System.gc();
      ProcessSupport.pause();
    }
  }

  /** Opens and fills a queue and drops the proxy without closing it. */
  private int openFillAndDrop(int count, byte[] item) {
    for (int i = 0; i < count; i++) {
      ManagedQueue<byte[]> q = manager.queue();
      q.put(item);
    }
    return count;
  }

  @Test
  void manyDroppedQueuesAreFreedSoTheManagerStaysBounded() {
    ManagerProbe probe = probe("how many queues and item bytes the manager holds");
    ManagerProbe.Stats before = probe.stats(manager);
    byte[] item = new byte[8 * 1024];
    int n = 5000;
    for (int i = 0; i < n / 2; i++) {
      ManagedQueue<byte[]> q = manager.queue();
      q.put(item);
      q.close(); // released explicitly
    }
    openFillAndDrop(n / 2, item); // released by the Cleaner once collected
    awaitWithGc(
        "the manager freed the " + n + " dropped queues (now " + probe.stats(manager) + ", before " + before + ")",
        () -> {
          ManagerProbe.Stats now = probe.stats(manager);
          return now.queues() <= before.queues() && now.itemBytes() <= before.itemBytes();
        });
  }

  @Test
  void closeReleasesTheQueueAndAClosedProxyFailsClearly() throws Exception {
    ManagerProbe probe = probe("whether the manager still holds a queue");
    ManagedQueue<String> q = manager.queue();
    q.put("x");
    ManagedQueue<String> again;
    String grace = System.setProperty("procpool.manager.transitGraceMillis", "500");
    try {
      again = roundTrip(q); // a second reference (as a worker would hold); pins the queue for 0.5 s
    } finally {
      if (grace == null) {
        System.clearProperty("procpool.manager.transitGraceMillis");
      } else {
        System.setProperty("procpool.manager.transitGraceMillis", grace);
      }
    }
    long id = probe.queueId(q.toString());
    q.close();
    q.close(); // idempotent
    IllegalStateException e = assertThrows(IllegalStateException.class, () -> q.put("y"));
    assertTrue(e.getMessage().contains("closed"), e.getMessage());
    assertThrows(IllegalStateException.class, q::get);
    assertThrows(IllegalStateException.class, q::qsize);
    assertThrows(NotSerializableException.class, () -> roundTrip(q));
    assertEquals("x", again.get(), "another proxy of the queue keeps it");
    again.close();
    awaitWithGc("the closed queue is freed once its pin expired", () -> !exists(probe, id));
  }

  private static <T> T roundTrip(T value) throws Exception {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
      out.writeObject(value);
    }
    try (ObjectInputStream in = new ObjectInputStream(
        new ByteArrayInputStream(bytes.toByteArray()))) {
      @SuppressWarnings("unchecked")
      T t = (T) in.readObject();
      return t;
    }
  }

  /** Opens a queue, drops its proxy and returns the queue's id. */
  private long openAndDrop(ManagerProbe probe) {
    ManagedQueue<String> q = manager.queue();
    q.put("x");
    return probe.queueId(q.toString());
  }

  @Test
  void aGarbageCollectedProxyReleasesItsQueue() {
    ManagerProbe probe = probe("whether the manager still holds a queue");
    long id = openAndDrop(probe);
    awaitWithGc("the collected proxy's queue is freed", () -> !exists(probe, id));
  }

  /** Opens an anonymous queue in the worker (through its own connection) and keeps it. */
  static String openAndKeepInWorker(String[] managerAndKey) {
    Manager m = Manager.connect(managerAndKey[0], Base64.getDecoder().decode(managerAndKey[1]));
    ManagedQueue<String> q = m.queue();
    q.put("kept by the worker");
    KEPT.add(q);
    return q.toString();
  }

  private static final List<Object> KEPT = Collections.synchronizedList(new ArrayList<>());

  @Test
  void theEndOfAClientsConnectionReleasesItsQueues() {
    ManagerProbe probe = probe("whether the manager still holds a queue");
    long id;
    try (ProcessPool pool = ProcessPool.builder().processes(1).transport(transport()).workerClasspath(TestClasspath.jarred()).build()) {
      id = probe.queueId(pool.apply(AbstractManagedQueueContractTest::openAndKeepInWorker,
          new String[] {manager.address(), Base64.getEncoder().encodeToString(manager.authKey())}));
      assertTrue(exists(probe, id), "the worker's queue exists while the worker lives");
    } // the worker exits: its connection to the manager ends
    awaitWithGc("the worker's queue is freed when its connection ended", () -> !exists(probe, id));
  }

  static String takeOne(ManagedQueue<String> q) {
    return q.get(Duration.ofSeconds(30));
  }

  static String waitForGate(ManagedQueue<String> gate) {
    return gate.get(Duration.ofSeconds(60));
  }

  @Test
  void aProxyInATaskArgumentStillWorksAfterTheParentDroppedItsOwn() throws Exception {
    ManagerProbe probe = probe("whether the manager still holds a queue");
    String gateName = "gate-" + UUID.randomUUID();
    ManagedQueue<String> gate = manager.queue(gateName);
    try (ProcessPool pool = ProcessPool.builder().processes(1).transport(transport()).workerClasspath(TestClasspath.jarred()).build()) {
      AsyncResult<String> busy = pool.applyAsync(AbstractManagedQueueContractTest::waitForGate, gate);
      ManagedQueue<String> q = manager.queue();
      q.put("still here");
      long id = probe.queueId(q.toString());
      AsyncResult<String> took = pool.applyAsync(AbstractManagedQueueContractTest::takeOne, q); // q in transit
      q.close(); // the parent's only live proxy goes while the task waits behind 'busy'
      assertTrue(exists(probe, id), "the serialized proxy pins its queue");
      gate.put("go");
      assertEquals("go", busy.get(30, TimeUnit.SECONDS));
      assertEquals("still here", took.get(30, TimeUnit.SECONDS));
    } finally {
      manager.deleteQueue(gateName);
    }
  }

  @Test
  void aNamedQueueSurvivesItsProxiesUntilDeleted() {
    String name = "named-" + UUID.randomUUID();
    ManagedQueue<Integer> q = manager.queue(name);
    q.put(42);
    q.close();
    ManagedQueue<Integer> other = manager.queue(name);
    System.gc();
    assertEquals(42, other.get(), "the named queue and its item survived the close of every proxy");
    other.put(43);
    assertTrue(manager.deleteQueue(name));
    IllegalStateException e = assertThrows(IllegalStateException.class, other::get);
    assertTrue(e.getMessage().contains("no such queue"), e.getMessage());
    assertFalse(manager.deleteQueue(name), "deleted already");
    ManagedQueue<Integer> fresh = manager.queue(name);
    assertTrue(fresh.empty(), "the name makes a new, empty queue");
    assertTrue(manager.deleteQueue(name));
    assertThrows(IllegalArgumentException.class, () -> manager.deleteQueue(""));
  }

  /** The encoded size of a byte array of {@code n} bytes, with the default codec ({@code "java"}). */
  private static int encodedSize(int n) throws Exception {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    CodecRegistry.get("java").encode(new byte[n], out);
    return out.size();
  }

  @Test
  void anOversizeItemFailsThatPutAloneAndOtherCallsGoOn() throws Exception {
    ManagedQueue<Object> q = manager.queue();
    CompletableFuture<Object> blocked = inThread(q::get); // another thread's call on the shared connection
    int limit = TransportOptions.DEFAULT_MAX_FRAME_SIZE;
    byte[] big = new byte[limit];
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> q.put(big));
    assertTrue(e.getMessage().contains(Integer.toString(encodedSize(limit))) && e.getMessage().contains("limit"),
        e.getMessage());
    assertFalse(blocked.isDone(), "the other thread's get is still waiting, not failed");
    q.put("small");
    assertEquals("small", blocked.get(30, TimeUnit.SECONDS));
    assertEquals(0, q.qsize());
  }

  /**
   * The largest item put accepts is what every read op can still deliver (ManagerServerTest checks the
   * delivery at a small maxFrameSize; 64 MiB items are too slow to move here); one byte more is refused
   * before anything is sent.
   */
  @Test
  void putRefusesTheFirstItemSizeThatAReadOpCouldNotDeliver() throws Exception {
    int frame = TransportOptions.DEFAULT_MAX_FRAME_SIZE;
    int largest = frame - 25; // the PUT request's header and fields take 25 bytes; answers take at most 17
    int n = largest - encodedSize(0) + 1;
    assertEquals(largest + 1, encodedSize(n));
    ManagedQueue<byte[]> q = manager.queue();
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> q.put(new byte[n]));
    assertTrue(e.getMessage().contains((largest + 1) + " bytes") && e.getMessage().contains("limit is " + largest),
        e.getMessage());
    q.put(new byte[] {1});
    assertEquals(1, q.get().length, "the queue and the connection work on");
  }

  @Test
  void anUnknownOpIsAnsweredWithAClearErrorAndTheConnectionSurvives() throws Exception {
    String address = manager.address();
    int colon = address.indexOf(':');
    Connection c = TransportRegistry.get(address.substring(0, colon))
        .connect(address.substring(colon + 1), new TransportOptions(manager.authKey(),
            TransportOptions.DEFAULT_MAX_FRAME_SIZE, null, Map.of()));
    LinkedBlockingQueue<ByteBuffer> answers = new LinkedBlockingQueue<>();
    c.start(new Connection.Listener() {
      @Override
      public void onMessage(ByteBuffer message) {
        ByteBuffer copy = ByteBuffer.allocate(message.remaining());
        copy.put(message).flip();
        answers.add(copy);
      }

      @Override
      public void onClosed(Throwable cause) {}
    });
    try {
      c.write(ByteBuffer.allocate(9).put((byte) 99).putLong(5).flip());
      c.flush();
      ByteBuffer a = answers.poll(30, TimeUnit.SECONDS);
      assertTrue(a != null, "no answer to an unknown op");
      assertEquals(5, a.getLong());
      assertEquals(7, a.get(), "status ERROR");
      String message = StandardCharsets.UTF_8.decode(a).toString();
      assertTrue(message.contains("unknown op 99"), message);
      assertFalse(message.contains("Underflow"), message);
      c.write(ByteBuffer.allocate(9).put((byte) 13).putLong(6).flip()); // PING
      c.flush();
      ByteBuffer pong = answers.poll(30, TimeUnit.SECONDS);
      assertTrue(pong != null, "the connection survived");
      assertEquals(6, pong.getLong());
      assertEquals(0, pong.get(), "status OK");
    } finally {
      c.close();
    }
  }

  @Test
  void aSerializedProxyDoesNotCarryTheKey() throws Exception {
    ManagedQueue<String> q = manager.queue();
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
      out.writeObject(q);
    }
    byte[] key = manager.authKey();
    byte[] b = bytes.toByteArray();
    for (int i = 0; i + key.length <= b.length; i++) {
      assertFalse(Arrays.equals(b, i, i + key.length, key, 0, key.length),
          "the manager key is in the serialized proxy at offset " + i);
    }
    q.close();
  }

  /**
   * A serialization racing with close() of the same proxy either fails (the proxy was closed first)
   * or yields a proxy that works: the queue in transit is never freed under it.
   */
  @Test
  void aProxySerializedWhileItIsClosedIsEitherRefusedOrUsable() throws Exception {
    java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(2);
    int refused = 0;
    int usable = 0;
    try {
      for (int i = 0; i < 300; i++) {
        ManagedQueue<Integer> q = manager.queue();
        q.put(i);
        java.util.concurrent.CyclicBarrier start = new java.util.concurrent.CyclicBarrier(2);
        java.util.concurrent.Future<byte[]> sent = pool.submit(() -> {
          start.await();
          ByteArrayOutputStream bytes = new ByteArrayOutputStream();
          try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
            out.writeObject(q);
          } catch (NotSerializableException closedFirst) {
            return null;
          }
          return bytes.toByteArray();
        });
        java.util.concurrent.Future<?> closed = pool.submit(() -> {
          start.await();
          q.close();
          return null;
        });
        byte[] b = sent.get(60, TimeUnit.SECONDS);
        closed.get(60, TimeUnit.SECONDS);
        if (b == null) {
          refused++;
          continue;
        }
        usable++;
        try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(b))) {
          @SuppressWarnings("unchecked")
          ManagedQueue<Integer> copy = (ManagedQueue<Integer>) in.readObject();
          assertEquals(i, copy.getNowait(), "round " + i + ": the proxy in transit lost its queue");
          copy.close();
        }
      }
    } finally {
      pool.shutdownNow();
    }
    System.out.println("serialize vs close: " + usable + " serialized and usable, " + refused + " refused");
  }

  static String getFrom(ManagedQueue<String> q) {
    return q.get(Duration.ofSeconds(30));
  }

  @Test
  void aProxyOfAManagerStartedAfterThePoolWorks() throws Exception {
    try (ProcessPool pool = ProcessPool.builder().processes(2).transport(transport()).workerClasspath(TestClasspath.jarred()).build();
        Manager late = Manager.builder().transport(transport()).classpath(TestClasspath.jarred()).build()) {
      ManagedQueue<String> q = late.queue();
      q.put("one");
      q.put("two");
      List<String> got = new ArrayList<>(pool.map(AbstractManagedQueueContractTest::getFrom, List.of(q, q)));
      Collections.sort(got);
      assertEquals(List.of("one", "two"), got);
    }
  }

  @Test
  void aPersistedProxyIsReadInAFreshJvmOnlyAfterManagerConnect() throws Exception {
    ManagedQueue<String> q = manager.queue("persisted-" + UUID.randomUUID());
    q.put("from the file");
    Path file = Files.createTempFile("procpool-proxy-", ".ser");
    try {
      try (ObjectOutputStream out = new ObjectOutputStream(Files.newOutputStream(file))) {
        out.writeObject(q);
      }
      String javaBin = Path.of(System.getProperty("java.home"), "bin", "java").toString();
      Process p = new ProcessBuilder(javaBin, "-cp", System.getProperty("java.class.path"), ProxyReaderMain.class.getName(),
          file.toString(), manager.address())
          .redirectError(ProcessBuilder.Redirect.INHERIT)
          .start();
      try {
        p.getOutputStream().write((Base64.getEncoder().encodeToString(manager.authKey()) + "\n")
            .getBytes(StandardCharsets.UTF_8));
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the reader JVM exits");
        assertTrue(out.contains("REFUSED ") && out.contains("Manager.connect(address, key)"), out);
        assertTrue(out.contains("GOT from the file"), out);
        assertEquals(0, p.exitValue(), out);
      } finally {
        p.destroyForcibly();
        p.waitFor(10, TimeUnit.SECONDS);
      }
    } finally {
      Files.deleteIfExists(file);
      manager.deleteQueue(q.name());
    }
  }
}
