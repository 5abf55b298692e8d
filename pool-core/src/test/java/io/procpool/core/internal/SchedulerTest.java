package io.procpool.core.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.procpool.api.PoolClosedException;
import io.procpool.api.PoolTerminatedException;
import io.procpool.api.SerializableFunction;
import io.procpool.api.TaskTimeoutException;
import io.procpool.api.WorkerCrashedException;
import io.procpool.api.WorkerStartException;
import io.procpool.api.spi.Connection;
import io.procpool.api.spi.PoolOptions;
import io.procpool.api.spi.ProtocolException;
import io.procpool.core.JavaSerializationCodec;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Deterministic tests of {@link Scheduler} and {@link WorkerSupervisor}: no transport, no threads
 * besides the test's. Workers are driven by hand (hello, ready, results, recalled, loss), their
 * connections record what the pool writes, their processes are fakes with controllable exit, and
 * time is a manual {@link FakeClock}.
 */
@Timeout(5)
class SchedulerTest {
  private static final Executor DIRECT = Runnable::run;
  private static final SerializableFunction<Object, Object> IDENTITY = x -> x;
  /** execNanos of a fast task: the count credit becomes the maximum, 64. */
  private static final long FAST = 1_000;
  /** execNanos that make the credit {@code 1e6 / 250e3 = 4}. */
  private static final long QUARTER_MS = 250_000;
  /** execNanos of a slow task: the credit stays 1. */
  private static final long SLOW = 50_000_000;
  private static final long MS = 1_000_000;
  private static final long PID_BASE = 1000;

  private final Payloads payloads = new Payloads(new JavaSerializationCodec(), SerialFilters.create(null, 1 << 20),
      SchedulerTest.class.getClassLoader());
  private final TaskEncoder encoder = new TaskEncoder(payloads, 64 << 20);
  private final FakeClock clock = new FakeClock();
  private final FakeLauncher launcher = new FakeLauncher();
  private Scheduler scheduler;
  private WorkerSupervisor supervisor;

  // ================================================================== fakes

  /** A manual clock: time moves only in {@link #advance}; shut down, it runs scheduled actions at once. */
  static final class FakeClock implements PoolClock {
    private long now = 1_000_000_000L;
    private long seq;
    private boolean shut;
    private final List<Entry> entries = new ArrayList<>();

    private static final class Entry {
      final long due;
      final long seq;
      final Runnable action;
      boolean cancelled;

      Entry(long due, long seq, Runnable action) {
        this.due = due;
        this.seq = seq;
        this.action = action;
      }
    }

    @Override
    public long nanoTime() {
      return now;
    }

    @Override
    public Cancellable schedule(Runnable action, long delayNanos) {
      if (shut) {
        action.run();
        return Cancellable.NONE;
      }
      Entry e = new Entry(now + delayNanos, seq++, action);
      entries.add(e);
      return () -> e.cancelled = true;
    }

    @Override
    public void shutdown() {
      shut = true;
    }

    /** Moves time forward by {@code nanos}, running every action that falls due, in due order. */
    void advance(long nanos) {
      long target = now + nanos;
      while (true) {
        Entry next = null;
        for (Entry e : entries) {
          if (!e.cancelled && e.due <= target
              && (next == null || e.due < next.due || (e.due == next.due && e.seq < next.seq))) {
            next = e;
          }
        }
        if (next == null) {
          break;
        }
        entries.remove(next);
        now = Math.max(now, next.due);
        next.action.run();
      }
      now = target;
    }
  }

  /** Records what the pool writes; flush does nothing unless a hook is set. Drops writes once closed. */
  static final class FakeConnection implements Connection {
    final String name;
    final List<ByteBuffer> messages = new ArrayList<>();
    boolean closed;
    /** Runs on close(), as the transport's onClosed would. */
    Runnable onClose;
    /** Runs on the first flush after a SHUTDOWN was written: the worker exits. */
    Runnable onShutdownFlushed;
    private boolean shutdownUnflushed;

    FakeConnection(String name) {
      this.name = name;
    }

    @Override
    public void start(Listener listener) {
      throw new UnsupportedOperationException("the scheduler never starts a connection");
    }

    @Override
    public void write(ByteBuffer message) {
      if (closed) {
        return;
      }
      ByteBuffer copy = ByteBuffer.allocate(message.remaining());
      copy.put(message.duplicate()).flip();
      messages.add(copy.asReadOnlyBuffer());
      if (copy.get(0) == WorkerProtocol.SHUTDOWN) {
        shutdownUnflushed = true;
      }
    }

    @Override
    public void flush() throws IOException {
      if (shutdownUnflushed && onShutdownFlushed != null) {
        shutdownUnflushed = false;
        Runnable r = onShutdownFlushed;
        onShutdownFlushed = null;
        r.run();
      }
    }

    @Override
    public void close() {
      if (closed) {
        return;
      }
      closed = true;
      if (onClose != null) {
        onClose.run();
      }
    }

    @Override
    public String describe() {
      return name;
    }

    List<Byte> types() {
      List<Byte> l = new ArrayList<>();
      for (ByteBuffer m : messages) {
        l.add(m.get(0));
      }
      return l;
    }

    int count(byte type) {
      int n = 0;
      for (ByteBuffer m : messages) {
        if (m.get(0) == type) {
          n++;
        }
      }
      return n;
    }

    /** The ids of the TASK messages written, in order. */
    List<Long> tasks() {
      List<Long> l = new ArrayList<>();
      for (ByteBuffer m : messages) {
        if (m.get(0) == WorkerProtocol.TASK) {
          l.add(WorkerProtocol.peekTaskId(m.duplicate()));
        }
      }
      return l;
    }

    /** The task ids of each RECALL written, in order. */
    List<List<Long>> recalls() {
      List<List<Long>> l = new ArrayList<>();
      for (ByteBuffer m : messages) {
        if (m.get(0) == WorkerProtocol.RECALL) {
          ByteBuffer b = m.duplicate();
          b.get();
          try {
            l.add(ids(WorkerProtocol.decodeRecall(b)));
          } catch (ProtocolException e) {
            throw new AssertionError("the pool wrote a malformed RECALL", e);
          }
        }
      }
      return l;
    }
  }

  static List<Long> ids(long... ids) {
    List<Long> l = new ArrayList<>();
    for (long id : ids) {
      l.add(id);
    }
    return l;
  }

  static List<Long> ids(Task... tasks) {
    List<Long> l = new ArrayList<>();
    for (Task t : tasks) {
      l.add(t.id);
    }
    return l;
  }

  /** A worker process: its exit is completed by hand, or by kill() (137, like SIGKILL). */
  static final class FakeProcess implements WorkerLauncher.Launched {
    final int workerId;
    final long pid;
    final CompletableFuture<Integer> exit = new CompletableFuture<>();
    int kills;
    /** Whether kill() ends the process at once (else its exit is completed by hand). */
    boolean exitOnKill = true;
    String stderr = "";

    FakeProcess(int workerId, long pid) {
      this.workerId = workerId;
      this.pid = pid;
    }

    @Override
    public long pid() {
      return pid;
    }

    @Override
    public CompletableFuture<Integer> onExit() {
      return exit;
    }

    @Override
    public void kill() {
      kills++;
      if (exitOnKill) {
        exit.complete(137);
      }
    }

    @Override
    public String stderrTail() {
      return stderr;
    }
  }

  static final class FakeLauncher implements WorkerLauncher {
    final Map<Integer, FakeProcess> processes = new HashMap<>();
    int launches;
    int failNextLaunches;

    @Override
    public Launched launch(int workerId, String address) throws IOException {
      assertEquals("fake:addr", address, "the supervisor must pass the transport's address");
      launches++;
      if (failNextLaunches > 0) {
        failNextLaunches--;
        throw new IOException("no java on PATH");
      }
      FakeProcess p = new FakeProcess(workerId, PID_BASE + workerId);
      assertNull(processes.put(workerId, p), "worker id " + workerId + " launched twice");
      return p;
    }

    FakeProcess process(int workerId) {
      FakeProcess p = processes.get(workerId);
      assertNotNull(p, "worker " + workerId + " was never launched");
      return p;
    }
  }

  // ================================================================== helpers

  private void start(PoolOptions options) {
    scheduler = new Scheduler(options, clock, false);
    supervisor = new WorkerSupervisor(scheduler, launcher, () -> "fake:addr", false,
        WorkerProtocol.init("java", null, false, 0, null));
    for (int i = 0; i < options.processes(); i++) {
      supervisor.spawn();
    }
  }

  private void start(int processes) {
    start(PoolOptions.newBuilder().processes(processes).build());
  }

  /** Worker {@code id} connects (HELLO) and gets its INIT. */
  private WorkerHandle connect(int id) throws ProtocolException {
    FakeConnection c = new FakeConnection("worker " + id);
    WorkerHandle w = supervisor.onHello(c, new WorkerProtocol.Hello(WorkerProtocol.VERSION, id, PID_BASE + id));
    assertEquals(id, w.id, "onHello must return the handle of the worker it names");
    assertEquals(List.of(WorkerProtocol.INIT), c.types(), "the first message to a worker is INIT");
    return w;
  }

  /** Worker {@code id} connects and reports READY. */
  private WorkerHandle ready(int id) throws ProtocolException {
    WorkerHandle w = connect(id);
    scheduler.onReady(w);
    assertTrue(w.is(WorkerHandle.State.READY), w + " should be READY, is " + w.state());
    return w;
  }

  private static FakeConnection conn(WorkerHandle w) {
    return (FakeConnection) w.connection;
  }

  /** TASK ids written to {@code w}, in order. */
  private static List<Long> sent(WorkerHandle w) {
    return conn(w).tasks();
  }

  private SingleTask<Object> task(Object arg) {
    return new SingleTask<>(scheduler, encoder.single(IDENTITY, WorkerProtocol.KIND_APPLY, arg, true), DIRECT, DIRECT);
  }

  private SingleTask<Object> submit(Object arg) {
    SingleTask<Object> t = task(arg);
    scheduler.submit(t);
    return t;
  }

  private List<SingleTask<Object>> submit(int n) {
    List<SingleTask<Object>> l = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      l.add(submit("arg" + i));
    }
    return l;
  }

  /** {@code w} reports {@code t}'s result, then the channel's read-complete dispatch runs. */
  private void result(WorkerHandle w, Task t, long execNanos) throws ProtocolException {
    scheduler.onResult(w, new WorkerProtocol.Result(t.id, execNanos, "value of " + t.id, null, null, false), 100);
    scheduler.dispatchAndFlush();
  }

  private void recalled(WorkerHandle w, long running, Task... removed) throws ProtocolException {
    scheduler.onRecalled(w, new WorkerProtocol.Recalled(running, ids(removed).stream().mapToLong(x -> x).toArray()));
  }

  /** Runs one task on {@code w} with the given execNanos, so the scheduler learns task times. */
  private void warm(WorkerHandle w, long execNanos) throws ProtocolException {
    SingleTask<Object> t = submit("warm-up");
    assertSame(w, t.worker, "the warm-up task should go to " + w);
    result(w, t, execNanos);
    assertEquals("value of " + t.id, value(t));
  }

  private static Object value(SingleTask<Object> t) {
    assertTrue(t.result.isDone(), t + " is not complete");
    try {
      return t.result.get(0, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new AssertionError(t + " did not succeed: " + e, e);
    }
  }

  private static Throwable failure(SingleTask<Object> t) {
    assertTrue(t.result.isDone(), t + " is not complete");
    assertFalse(t.result.isCancelled(), t + " was cancelled, not failed");
    try {
      Object v = t.result.get(0, TimeUnit.SECONDS);
      throw new AssertionError(t + " succeeded with " + v + ", expected a failure");
    } catch (ExecutionException e) {
      return e.getCause();
    } catch (Exception e) {
      throw new AssertionError(t + ": " + e, e);
    }
  }

  private String describe() {
    return scheduler.describe();
  }

  private void assertQueued(int n) {
    assertTrue(describe().contains("queued=" + n + ","), "expected " + n + " queued tasks: " + describe());
  }

  private void assertUnfinished(int n) {
    assertTrue(describe().endsWith("unfinished=" + n), "expected " + n + " unfinished tasks: " + describe());
  }

  /** A worker that crashed: its process exited with {@code code}, then its connection ended. */
  private void crash(WorkerHandle w, int code, Throwable cause) {
    launcher.process(w.id).exit.complete(code);
    scheduler.workerLost(w, cause);
    assertTrue(w.is(WorkerHandle.State.DEAD), w + " should be DEAD after workerLost");
  }

  /** A launched worker whose process exits before it connected. */
  private void failStart(int id, int code) {
    launcher.process(id).exit.complete(code);
  }

  // ================================================================== dispatch and credit

  /**
   * Statistics: a task lost with its worker counts as failed with the time it ran until the loss
   * (the task queued behind it only waited); a result counts the worker's run time; a cancelled
   * task is in neither total; the counts add up at every step.
   */
  @Test
  void statsTimeEveryTaskWithAnOutcomeIncludingThoseLostWithTheirWorker() throws Exception {
    start(1);
    WorkerHandle w = ready(0);
    SingleTask<Object> a = submit("a");
    result(w, a, 10_000); // learned fast (10 µs): the next tasks are pipelined
    clock.advance(TimeUnit.MILLISECONDS.toNanos(10));
    SingleTask<Object> b = submit("b");
    SingleTask<Object> c = submit("c");
    SingleTask<Object> d = submit("d");
    assertEquals(ids(a, b, c, d), sent(w));
    assertTrue(d.result.cancel(false));
    io.procpool.api.PoolStats s = scheduler.stats();
    assertEquals(4, s.submitted());
    assertEquals(1, s.completed());
    assertEquals(1, s.cancelled());
    assertEquals(2, s.running(), "b and c are held by the worker: " + s);
    assertEquals(0, s.queued(), s.toString());
    assertEquals(io.procpool.api.WorkerStats.State.BUSY, s.workers().get(0).state());

    clock.advance(TimeUnit.MILLISECONDS.toNanos(500)); // b runs 500 ms, then the worker dies
    scheduler.workerLost(w, new IOException("killed"));
    s = scheduler.stats();
    assertEquals(4, s.submitted());
    assertEquals(1, s.completed());
    assertEquals(2, s.failed(), s.toString());
    assertEquals(1, s.cancelled());
    assertEquals(0, s.queued() + s.running(), s.toString());
    assertEquals(1, s.workersLost());
    assertEquals(1, s.workersStarted());
    // a ran 10 µs (as the worker measured); b from its submission (after a's result) until the loss; c not at all.
    assertEquals(Duration.ofMillis(500).plusNanos(10_000), s.runTime(), s.toString());
    // c waited from its submission until the loss; a and b did not wait (fake clock: no time passed).
    assertEquals(Duration.ofMillis(500), s.waitTime(), s.toString());
    assertTrue(s.workers().isEmpty() || s.workers().get(0).state() == io.procpool.api.WorkerStats.State.STARTING,
        "only a replacement may be listed: " + s);
  }

  @Test
  void dispatchSpreadsOverIdleWorkersInTheOrderTheyLastGotWork() throws Exception {
    start(3);
    WorkerHandle w0 = ready(0);
    WorkerHandle w1 = ready(1);
    WorkerHandle w2 = ready(2);
    SingleTask<Object> a = submit("a");
    SingleTask<Object> b = submit("b");
    SingleTask<Object> c = submit("c");
    assertEquals(ids(a), sent(w0), "first task to the first idle worker");
    assertEquals(ids(b), sent(w1), "second task to the next idle worker, not behind the first");
    assertEquals(ids(c), sent(w2), "third task to the third idle worker");
    assertTrue(conn(w0).types().indexOf(WorkerProtocol.DEFINE) < conn(w0).types().indexOf(WorkerProtocol.TASK),
        "DEFINE of the function precedes its first TASK: " + conn(w0).types());

    // They finish in the order c, a, b: the next task still goes to the worker that got work
    // longest ago (w0), as with a shared queue.
    result(w2, c, SLOW);
    result(w0, a, SLOW);
    result(w1, b, SLOW);
    SingleTask<Object> d = submit("d");
    SingleTask<Object> e = submit("e");
    assertEquals(ids(a, d), sent(w0), "d goes to the idle worker that got work longest ago");
    assertEquals(ids(b, e), sent(w1), "e goes to the next one");
    assertEquals(ids(c), sent(w2));
    assertEquals("value of " + c.id, value(c));
  }

  @Test
  void dispatchGoesToTheLeastLoadedReadyWorker() throws Exception {
    start(2);
    WorkerHandle w0 = ready(0);
    WorkerHandle w1 = ready(1);
    warm(w0, FAST); // credit 64
    List<SingleTask<Object>> t = submit(4);
    assertTrue(t.stream().allMatch(x -> x.worker != null), "all four were dispatched");
    assertEquals(2, w0.inflight.size(), "4 tasks over 2 workers: 2 each; w0 has " + sent(w0) + ", w1 " + sent(w1));
    assertEquals(2, w1.inflight.size(), "4 tasks over 2 workers: 2 each");
    // w1 finishes its first: it is now the least loaded and gets the next task.
    Task w1First = w1.inflight.peekFirst();
    result(w1, w1First, FAST);
    SingleTask<Object> next = submit("next");
    assertSame(w1, next.worker, "the next task goes to the worker with fewer tasks in flight");
    assertEquals(2, w0.inflight.size());
    assertEquals(2, w1.inflight.size());
  }

  @Test
  void retiringAndStartingWorkersGetNoTasks() throws Exception {
    start(PoolOptions.newBuilder().processes(2).maxTasksPerChild(1).build());
    WorkerHandle w0 = ready(0);
    SingleTask<Object> a = submit("a");
    assertSame(w0, a.worker);
    assertTrue(w0.is(WorkerHandle.State.RETIRING), "maxTasksPerChild=1: RETIRING after one dispatch");
    SingleTask<Object> b = submit("b");
    assertNull(b.worker, "neither the RETIRING w0 nor the STARTING w1 may take a task");
    assertQueued(1);
    WorkerHandle w1 = connect(1);
    assertNull(b.worker, "a connected but not yet READY worker takes no task");
    scheduler.onReady(w1);
    assertEquals(ids(b), sent(w1), "the queued task goes to w1 once it is READY");
  }

  @Test
  void countCreditIsOneWhileTaskTimesAreUnknown() throws Exception {
    start(1);
    WorkerHandle w0 = ready(0);
    List<SingleTask<Object>> t = submit(5);
    assertEquals(ids(t.get(0)), sent(w0), "with no task time known, a worker gets one task at a time");
    assertQueued(4);
    result(w0, t.get(0), SLOW);
    assertEquals(ids(t.get(0), t.get(1)), sent(w0), "slow tasks (50 ms): still one at a time");
    assertQueued(3);
  }

  @Test
  void countCreditGrowsWithFastResults() throws Exception {
    start(1);
    WorkerHandle w0 = ready(0);
    warm(w0, QUARTER_MS);
    List<SingleTask<Object>> t = submit(10);
    assertEquals(4, sent(w0).size() - 1, "250 µs tasks: credit 1 ms / 250 µs = 4; sent " + sent(w0));
    assertEquals(4, w0.inflight.size());
    assertQueued(6);
    // One result frees one slot.
    result(w0, t.get(0), QUARTER_MS);
    assertEquals(4, w0.inflight.size(), "a result frees exactly one slot at credit 4");
    assertQueued(5);
  }

  @Test
  void countCreditNeverExceeds64() throws Exception {
    start(1);
    WorkerHandle w0 = ready(0);
    warm(w0, 1); // 1 ns: 1 ms / 1 ns would be a million
    List<SingleTask<Object>> t = submit(100);
    assertEquals(Scheduler.MAX_IN_FLIGHT, w0.inflight.size(), "credit is capped at 64");
    assertEquals(64, sent(w0).size() - 1, "64 TASK messages after the warm-up");
    assertQueued(36);
    result(w0, t.get(0), 1);
    assertEquals(64, w0.inflight.size(), "still at most 64 in flight after a result");
    assertQueued(35);
  }

  @Test
  void byteCreditKeepsTwoLargeTasksOffOneBusyWorker() throws Exception {
    start(2);
    WorkerHandle w0 = ready(0);
    warm(w0, FAST); // count credit 64: only bytes can hold the second task back
    SingleTask<Object> big1 = submit(new byte[5 << 20]);
    SingleTask<Object> big2 = submit(new byte[5 << 20]);
    assertSame(w0, big1.worker, "the first 5 MiB task goes to the idle worker");
    assertNull(big2.worker, "a second 5 MiB task would put w0 over the 8 MiB byte budget");
    assertEquals(1, sent(w0).size() - 1, "one large TASK written to w0: " + sent(w0));
    WorkerHandle w1 = ready(1);
    assertEquals(ids(big2), sent(w1), "the second large task goes to the next worker that has room");
    // A small task still fits next to a large one.
    SingleTask<Object> small = submit("small");
    assertNotNull(small.worker, "a small task fits in the byte budget of a worker holding 5 MiB");
    assertEquals(2, small.worker.inflight.size());
  }

  @Test
  void taskLargerThanTheByteBudgetStillGoesToAnIdleWorker() throws Exception {
    start(1);
    WorkerHandle w0 = ready(0);
    warm(w0, FAST);
    SingleTask<Object> huge = submit(new byte[9 << 20]);
    assertTrue(huge.size() > Scheduler.BYTE_BUDGET, "the task must exceed the budget: " + huge.size());
    assertEquals(List.of(huge.id), sent(w0).subList(1, sent(w0).size()), "an idle worker takes any one task");
    SingleTask<Object> small = submit("small");
    assertNull(small.worker, "nothing joins a task that alone exceeds the byte budget");
    result(w0, huge, FAST);
    assertSame(w0, small.worker, "after the large task is done, the small one goes");
  }

  // ================================================================== timeouts

  @Test
  void taskTimeoutKeepsCreditAtOneAndKillsTheWorkerWithoutRetry() throws Exception {
    Duration timeout = Duration.ofSeconds(1);
    start(PoolOptions.newBuilder().processes(1).taskTimeout(timeout).retryOnCrash(2).build());
    WorkerHandle w0 = ready(0);
    warm(w0, FAST); // fast tasks, yet with a taskTimeout the credit stays 1
    List<SingleTask<Object>> t = submit(3);
    SingleTask<Object> stuck = t.get(0);
    assertEquals(ids(stuck), sent(w0).subList(1, sent(w0).size()), "taskTimeout: one task at a time");
    FakeProcess p0 = launcher.process(0);

    clock.advance(timeout.toNanos() - 1);
    assertEquals(0, p0.kills, "not killed before the timeout");
    assertFalse(conn(w0).closed);
    clock.advance(1);
    assertTrue(p0.kills >= 1, "the timeout kills the worker's process");
    assertTrue(conn(w0).closed, "the timeout closes the worker's connection first");
    assertFalse(stuck.result.isDone(), "the task's outcome is delivered when the worker is gone");

    scheduler.workerLost(w0, null); // the connection's onClosed
    TaskTimeoutException e = assertInstanceOf(TaskTimeoutException.class, failure(stuck));
    assertEquals(timeout, e.timeout());
    assertEquals(PID_BASE, e.workerPid());
    assertTrue(e.getMessage().contains("task " + stuck.id + " ran longer than the pool's taskTimeout of PT1S"),
        e.getMessage());
    assertFalse(stuck.result.taskThrew(), "a timeout is raised by the pool, not thrown by the task");
    assertFalse(t.get(1).result.isDone(), "queued tasks are unaffected");
    assertFalse(t.get(2).result.isDone(), "queued tasks are unaffected");

    assertEquals(2, launcher.launches, "the killed worker is replaced at once");
    WorkerHandle w1 = ready(1);
    assertEquals(ids(t.get(1)), sent(w1),
        "the replacement gets the next queued task; the timed-out one is not retried despite retryOnCrash");
    result(w1, t.get(1), FAST);
    assertEquals(ids(t.get(1), t.get(2)), sent(w1));
  }

  @Test
  void timeoutIsWithdrawnWhenTheResultArrives() throws Exception {
    start(PoolOptions.newBuilder().processes(1).taskTimeout(Duration.ofSeconds(1)).build());
    WorkerHandle w0 = ready(0);
    SingleTask<Object> a = submit("a");
    clock.advance(900 * MS);
    result(w0, a, 900 * MS);
    clock.advance(10_000 * MS);
    assertEquals(0, launcher.process(0).kills, "a task that finished in time does not kill its worker later");
    assertEquals("value of " + a.id, value(a));
  }

  // ================================================================== rebalance (RECALL / RECALLED)

  /** w0 holds a, b, c (credit 64); w1 just became READY with an empty queue. Returns [a, b, c]. */
  private List<SingleTask<Object>> busyAndIdle(WorkerHandle[] w) throws Exception {
    start(2);
    w[0] = ready(0);
    warm(w[0], FAST);
    List<SingleTask<Object>> t = submit(3);
    assertEquals(ids(t.get(0), t.get(1), t.get(2)), sent(w[0]).subList(1, 4), "w0 takes all three");
    assertEquals(List.of(), conn(w[0]).recalls(), "no RECALL while no other worker idles");
    w[1] = ready(1);
    return t;
  }

  @Test
  void idleWorkerMakesTheBusiestGiveBackItsQueuedTasks() throws Exception {
    WorkerHandle[] w = new WorkerHandle[2];
    List<SingleTask<Object>> t = busyAndIdle(w);
    SingleTask<Object> a = t.get(0);
    SingleTask<Object> b = t.get(1);
    SingleTask<Object> c = t.get(2);
    assertEquals(List.of(ids(a, b, c)), conn(w[0]).recalls(), "w1 idles with an empty queue: RECALL to w0 naming its tasks");
    assertEquals(List.of(), sent(w[1]), "nothing to give w1 until w0 answers");

    // w0 is running a and gives back b and c.
    recalled(w[0], a.id, b, c);
    assertEquals(ids(b, c), sent(w[1]), "the tasks w0 gave back go to the idle w1, in order");
    assertTrue(w[0].stalled, "w0 is known slow now");
    assertEquals(ids(a), ids(w[0].inflight.toArray(new Task[0])), "w0 keeps only its running task");

    // w0 holds 1, w1 holds 2: least-loaded would pick w0, but it is stalled.
    SingleTask<Object> d = submit("d");
    assertSame(w[1], d.worker, "a stalled worker gets no task until it returns a result");
    assertEquals(ids(a, b, c), sent(w[0]).subList(1, 4));
    assertEquals(4, sent(w[0]).size(), "nothing new for w0: " + sent(w[0]));

    // w0 finishes a: no longer stalled, idle; w1 now sits on queued work, so it is asked to give back.
    result(w[0], a, FAST);
    assertFalse(w[0].stalled, "a result ends the stall");
    assertEquals(List.of(ids(b, c, d)), conn(w[1]).recalls(), "now w0 idles: RECALL to w1");
    SingleTask<Object> e = submit("e");
    assertSame(w[0], e.worker, "w1 has a RECALL outstanding; the idle w0 takes the new task");
    assertEquals("value of " + a.id, value(a));
  }

  @Test
  void outstandingRecallBlocksDispatchToThatWorker() throws Exception {
    WorkerHandle[] w = new WorkerHandle[2];
    List<SingleTask<Object>> t = busyAndIdle(w);
    assertEquals(1, conn(w[0]).recalls().size());
    List<SingleTask<Object>> more = submit(4);
    for (SingleTask<Object> m : more) {
      assertSame(w[1], m.worker, m + " must not go to w0 while its RECALL is unanswered");
    }
    assertEquals(4, sent(w[0]).size(), "w0 got nothing new: " + sent(w[0]));
    assertEquals(4, w[1].inflight.size(), "w1 holds more than w0 (3) and still gets them");

    // w0 had started everything (or finished it): it gives nothing back; no stall.
    recalled(w[0], t.get(0).id);
    assertFalse(w[0].stalled, "an empty RECALLED does not stall the worker");
    assertEquals(3, w[0].inflight.size(), "w0 keeps what it did not give back");
    SingleTask<Object> next = submit("next");
    assertSame(w[0], next.worker, "with the RECALL answered, w0 (3 in flight) is less loaded than w1 (4)");
  }

  @Test
  void recalledWithoutRecallIsAProtocolError() throws Exception {
    start(1);
    WorkerHandle w0 = ready(0);
    ProtocolException e = assertThrows(ProtocolException.class, () -> recalled(w0, -1));
    assertTrue(e.getMessage().contains("RECALLED from worker 0 (pid 1000) without a RECALL"), e.getMessage());
  }

  @Test
  void resultForATaskNotAtTheHeadIsAProtocolError() throws Exception {
    start(1);
    WorkerHandle w0 = ready(0);
    warm(w0, FAST);
    SingleTask<Object> a = submit("a");
    SingleTask<Object> b = submit("b");
    ProtocolException e = assertThrows(ProtocolException.class, () -> result(w0, b, FAST));
    assertTrue(e.getMessage().contains("result for task " + b.id), e.getMessage());
    assertFalse(a.result.isDone());
    assertFalse(b.result.isDone(), "an out-of-order result is not delivered");
  }

  // ================================================================== cancel

  @Test
  void cancelOfAQueuedTaskRemovesItFromTheQueue() throws Exception {
    start(1);
    WorkerHandle w0 = ready(0);
    SingleTask<Object> a = submit("a");
    SingleTask<Object> b = submit("b");
    assertQueued(1);
    assertTrue(b.result.cancel(false), "cancel of a queued task succeeds");
    assertTrue(b.result.isCancelled());
    assertQueued(0);
    assertUnfinished(1);
    result(w0, a, SLOW);
    assertEquals(ids(a), sent(w0), "the cancelled task is never sent");
    assertEquals(List.of(), conn(w0).recalls(), "no RECALL for a task no worker holds");
    assertUnfinished(0);
    assertFalse(b.result.cancel(true), "a second cancel returns false");
  }

  @Test
  void cancelOfAHeldTaskTakesItBackWithoutKillingWhenNotStarted() throws Exception {
    start(1);
    WorkerHandle w0 = ready(0);
    warm(w0, FAST);
    SingleTask<Object> a = submit("a");
    SingleTask<Object> b = submit("b");
    SingleTask<Object> c = submit("c");
    assertTrue(b.result.cancel(true));
    assertTrue(b.result.isCancelled(), "the result is cancelled at once");
    assertEquals(List.of(ids(b, c)), conn(w0).recalls(), "RECALL of the cancelled task and what follows it");

    // The worker is running a: it takes b and c out of its queue.
    recalled(w0, a.id, b, c);
    assertEquals(0, launcher.process(0).kills, "b never started: no kill");
    assertFalse(conn(w0).closed);
    assertEquals(ids(a, c), ids(w0.inflight.toArray(new Task[0])), "c was sent again; b was not");
    assertEquals(2, sent(w0).stream().filter(id -> id == c.id).count(), "c re-sent once");
    assertEquals(1, sent(w0).stream().filter(id -> id == b.id).count(), "b never re-sent");
    result(w0, a, FAST);
    result(w0, c, FAST);
    assertEquals("value of " + c.id, value(c));
    assertTrue(b.result.isCancelled(), "b stays cancelled");
    assertUnfinished(0);
  }

  @Test
  void cancelWithInterruptOfTheRunningTaskKillsTheWorker() throws Exception {
    start(1);
    WorkerHandle w0 = ready(0);
    SingleTask<Object> a = submit("a");
    assertTrue(a.result.cancel(true));
    assertEquals(List.of(ids(a)), conn(w0).recalls());
    assertEquals(0, launcher.process(0).kills, "no kill before the worker says what it runs");

    recalled(w0, a.id); // running a, nothing to give back
    assertTrue(launcher.process(0).kills >= 1, "cancel(true) of the running task kills the worker");
    assertTrue(conn(w0).closed, "its connection is closed");

    scheduler.workerLost(w0, null);
    assertTrue(a.result.isCancelled(), "the task stays cancelled; it is not reported as a crash");
    assertThrows(CancellationException.class, () -> a.result.get(0, TimeUnit.SECONDS));
    assertUnfinished(0);
    assertEquals(2, launcher.launches, "the killed worker is replaced");
    SingleTask<Object> b = submit("b");
    WorkerHandle w1 = ready(1);
    assertEquals(ids(b), sent(w1));
  }

  @Test
  void cancelWithoutInterruptOfTheRunningTaskLetsItRun() throws Exception {
    start(1);
    WorkerHandle w0 = ready(0);
    SingleTask<Object> a = submit("a");
    assertTrue(a.result.cancel(false));
    recalled(w0, a.id);
    assertEquals(0, launcher.process(0).kills, "cancel(false) never kills");
    result(w0, a, SLOW);
    assertTrue(a.result.isCancelled(), "its late result is dropped");
    assertUnfinished(0);
  }

  /** cancel(false) lets a running task run; if it then hangs past taskTimeout, its worker is still killed. */
  @Test
  void cancelWithoutInterruptKeepsTheTaskTimeoutOfARunningTask() throws Exception {
    Duration timeout = Duration.ofSeconds(1);
    start(PoolOptions.newBuilder().processes(1).taskTimeout(timeout).build());
    WorkerHandle w0 = ready(0);
    SingleTask<Object> a = submit("a");
    assertTrue(a.result.cancel(false));
    recalled(w0, a.id); // it was running: not taken back
    assertTrue(a.result.isCancelled());
    assertEquals(0, launcher.process(0).kills, "cancel(false) does not kill");
    clock.advance(timeout.toNanos());
    assertTrue(launcher.process(0).kills >= 1, "the hung, cancelled task's worker is killed at its timeout");
    scheduler.workerLost(w0, null);
    assertUnfinished(0);
  }

  @Test
  void cancelKillDoesNotSendGivenBackTasksToTheDoomedWorker() throws Exception {
    start(1);
    WorkerHandle w0 = ready(0);
    warm(w0, FAST);
    SingleTask<Object> a = submit("a");
    SingleTask<Object> b = submit("b");
    assertTrue(a.result.cancel(true));
    assertEquals(List.of(ids(a, b)), conn(w0).recalls());
    recalled(w0, a.id, b); // running a; b taken back, it never ran
    assertTrue(launcher.process(0).kills >= 1, "w0 is killed to stop a");
    assertEquals(1, sent(w0).stream().filter(id -> id == b.id).count(),
        "b must not be sent again to the worker being killed: " + sent(w0));
    SingleTask<Object> c = submit("c");
    assertFalse(c.worker == w0, "a new task must not go to the worker being killed");

    scheduler.workerLost(w0, null);
    assertFalse(b.result.isDone(), "b was given back before the kill: it must not fail: "
        + (b.result.isDone() ? failure(b) : ""));
    WorkerHandle w1 = ready(1);
    assertEquals(b.id, sent(w1).get(0), "b runs on the replacement");
    result(w1, b, FAST);
    assertEquals("value of " + b.id, value(b));
  }

  // ================================================================== crashes and retries

  @Test
  void crashFailsHeldTasksWithWorkerCrashedExceptionNamingThePid() throws Exception {
    start(1);
    WorkerHandle w0 = ready(0);
    warm(w0, FAST);
    SingleTask<Object> a = submit("a");
    SingleTask<Object> b = submit("b");
    assertUnfinished(2);
    crash(w0, 137, new IOException("connection reset by peer"));
    for (SingleTask<Object> t : List.of(a, b)) {
      WorkerCrashedException e = assertInstanceOf(WorkerCrashedException.class, failure(t));
      assertEquals(PID_BASE, e.workerPid(), "names the pid");
      assertEquals(137, e.exitCode().orElse(-1), "carries the exit code");
      String what = t == a ? "while running task " + a.id
          : "while task " + b.id + " was queued on it behind task " + a.id
              + " (it may have started; retryOnCrash runs such tasks again)";
      assertEquals("worker pid 1000 killed by signal 9 (SIGKILL) " + what + " (connection reset by peer)",
          e.getMessage());
      assertFalse(t.result.taskThrew());
    }
    assertUnfinished(0);
    assertEquals(2, launcher.launches, "a crashed worker is replaced");
  }

  @Test
  void crashFailuresWaitForTheExitCode() throws Exception {
    start(1);
    WorkerHandle w0 = ready(0);
    SingleTask<Object> a = submit("a");
    launcher.process(0).exitOnKill = false; // it is dying on its own: the kill changes nothing
    scheduler.workerLost(w0, null); // the connection ended before the process did
    assertTrue(launcher.process(0).kills >= 1, "a lost worker's process is killed");
    assertFalse(a.result.isDone(), "the failure waits (briefly) for the exit code");
    launcher.process(0).exit.complete(134);
    WorkerCrashedException e = assertInstanceOf(WorkerCrashedException.class, failure(a));
    assertEquals(134, e.exitCode().orElse(-1));
    assertEquals("worker pid 1000 killed by signal 6 (SIGABRT) while running task " + a.id, e.getMessage());
    assertUnfinished(0);
  }

  @Test
  void retryOnCrashRequeuesHeldTasksAtTheFrontInOrder() throws Exception {
    start(PoolOptions.newBuilder().processes(1).retryOnCrash(1).build());
    WorkerHandle w0 = ready(0);
    warm(w0, QUARTER_MS); // credit 4
    List<SingleTask<Object>> t = submit(5);
    assertEquals(4, w0.inflight.size());
    assertQueued(1);
    crash(w0, 137, new IOException("gone"));
    for (SingleTask<Object> x : t) {
      assertFalse(x.result.isDone(), x + " must be retried, not failed");
    }
    assertQueued(5);
    WorkerHandle w1 = ready(1);
    assertEquals(ids(t.get(0), t.get(1), t.get(2), t.get(3)), sent(w1),
        "the crashed worker's tasks go first, in their order, ahead of the task that was queued");

    // Second crash: their one retry is used up.
    crash(w1, 137, new IOException("gone again"));
    for (int i = 0; i < 4; i++) {
      WorkerCrashedException e = assertInstanceOf(WorkerCrashedException.class, failure(t.get(i)));
      assertEquals(PID_BASE + 1, e.workerPid(), "names the pid of the second worker");
    }
    assertFalse(t.get(4).result.isDone(), "the never-sent task is still queued");
    WorkerHandle w2 = ready(2);
    assertEquals(ids(t.get(4)), sent(w2));
  }

  @Test
  void terminateFailsEveryUnfinishedTaskAndKillsWorkers() throws Exception {
    start(2);
    WorkerHandle w0 = ready(0);
    warm(w0, QUARTER_MS);
    connect(1); // still STARTING
    List<SingleTask<Object>> t = submit(6);
    for (int id = 0; id < 2; id++) {
      WorkerHandle w = workerById(id);
      conn(w).onClose = () -> scheduler.workerLost(w, null);
    }
    PoolTerminatedException reason = new PoolTerminatedException("terminated by the test");
    scheduler.terminate(reason);
    for (SingleTask<Object> x : t) {
      assertSame(reason, failure(x), x + " fails with the termination");
    }
    assertTrue(launcher.process(0).kills >= 1, "w0 killed");
    assertTrue(launcher.process(1).kills >= 1, "the starting w1 killed");
    assertEquals(2, launcher.launches, "no replacement after terminate");
    assertUnfinished(0);
    PoolClosedException e = assertThrows(PoolClosedException.class, () -> submit("late"));
    assertTrue(e.getMessage().contains("terminated"), e.getMessage());
  }

  @Test
  void closeStopsIdleWorkersAndReturnsOnceTheyLeft() throws Exception {
    start(2);
    WorkerHandle w0 = ready(0);
    WorkerHandle w1 = ready(1);
    SingleTask<Object> a = submit("a");
    result(w0, a, SLOW);
    for (WorkerHandle w : List.of(w0, w1)) {
      conn(w).onShutdownFlushed = () -> {
        launcher.process(w.id).exit.complete(0);
        scheduler.workerLost(w, null);
      };
    }
    scheduler.close();
    for (WorkerHandle w : List.of(w0, w1)) {
      assertEquals(1, conn(w).count(WorkerProtocol.SHUTDOWN), w + " told to exit");
      assertTrue(w.is(WorkerHandle.State.DEAD));
      assertEquals(0, launcher.process(w.id).kills, "a stopping worker is given time to exit");
    }
    assertEquals(2, launcher.launches, "no replacement while closing");
    assertThrows(PoolClosedException.class, () -> submit("late"));
    assertTrue(describe().startsWith("state=CLOSING, workers=0, queued=0"), describe());
  }

  private WorkerHandle workerById(int id) {
    scheduler.lock.lock();
    try {
      return scheduler.workerLocked(id);
    } finally {
      scheduler.lock.unlock();
    }
  }

  // ================================================================== retirement

  @Test
  void maxTasksPerChildRetiresThenShutsDownAndReplaces() throws Exception {
    start(PoolOptions.newBuilder().processes(1).maxTasksPerChild(2).build());
    WorkerHandle w0 = ready(0);
    List<SingleTask<Object>> t = submit(3);
    assertTrue(w0.is(WorkerHandle.State.READY));
    result(w0, t.get(0), SLOW);
    assertEquals(ids(t.get(0), t.get(1)), sent(w0));
    assertTrue(w0.is(WorkerHandle.State.RETIRING), "RETIRING after 2 dispatches, is " + w0.state());
    assertEquals(0, conn(w0).count(WorkerProtocol.SHUTDOWN), "not stopped while it holds a task");
    assertEquals(1, launcher.launches, "not replaced yet");

    result(w0, t.get(1), SLOW);
    assertTrue(w0.is(WorkerHandle.State.STOPPING), "its last task done: STOPPING, is " + w0.state());
    assertEquals(1, conn(w0).count(WorkerProtocol.SHUTDOWN), "SHUTDOWN once its tasks are done");
    assertEquals(2, launcher.launches, "a replacement is launched");
    assertEquals(ids(t.get(0), t.get(1)), sent(w0), "nothing more for the retired worker");

    WorkerHandle w1 = ready(1);
    assertEquals(ids(t.get(2)), sent(w1), "the replacement takes the queued task");

    scheduler.workerLost(w0, null); // it exits after SHUTDOWN
    assertEquals(2, launcher.launches, "a stopping worker that leaves is not replaced again");
    assertEquals(0, launcher.process(0).kills, "a stopping worker is not killed at once");
    clock.advance(WorkerSupervisor.GRACEFUL_EXIT.toNanos() - 1);
    assertEquals(0, launcher.process(0).kills);
    clock.advance(1);
    assertEquals(1, launcher.process(0).kills, "killed if still alive after the grace period");
  }

  @Test
  void retireMessageRetiresAfterTheCurrentTask() throws Exception {
    start(1);
    WorkerHandle w0 = ready(0);
    SingleTask<Object> a = submit("a");
    scheduler.onRetire(w0);
    assertTrue(w0.is(WorkerHandle.State.RETIRING));
    assertEquals(0, conn(w0).count(WorkerProtocol.SHUTDOWN), "it finishes what it holds first");
    result(w0, a, SLOW);
    assertEquals(1, conn(w0).count(WorkerProtocol.SHUTDOWN));
    assertEquals(2, launcher.launches, "retired worker replaced");
  }

  @Test
  void stoppingWorkerLostIsNotAStartFailure() throws Exception {
    start(PoolOptions.newBuilder().processes(1).maxTasksPerChild(1).build());
    WorkerHandle w0 = ready(0);
    SingleTask<Object> a = submit("a");
    result(w0, a, SLOW);
    assertTrue(w0.is(WorkerHandle.State.STOPPING));
    assertEquals(2, launcher.launches, "replacement w1 launched");
    scheduler.workerLost(w0, new IOException("exited")); // the stopping worker leaves
    assertEquals(2, launcher.launches, "no replacement for a stopping worker");

    // The replacement fails to start: the first start failure in a row, so 100 ms back-off. Had
    // w0's exit counted, it would be the second (200 ms).
    failStart(1, 1);
    assertEquals(2, launcher.launches, "after the pool ran, a start failure's replacement is delayed");
    clock.advance(WorkerSupervisor.FIRST_BACKOFF.toNanos() - 1);
    assertEquals(2, launcher.launches);
    clock.advance(1);
    assertEquals(3, launcher.launches, "replacement after the first back-off (100 ms)");
  }

  // ================================================================== start failures

  @Test
  void threeStartFailuresBeforeTheFirstReadyBreakThePool() throws Exception {
    start(2);
    CompletableFuture<Void> firstReady = supervisor.firstReady();
    failStart(0, 1);
    assertEquals(3, launcher.launches, "replaced at once before the pool ran");
    failStart(1, 1);
    assertEquals(4, launcher.launches);
    assertFalse(firstReady.isDone());
    launcher.process(2).stderr = "Error: Could not find or load main class io.procpool.core.WorkerMain";
    failStart(2, 1);
    assertEquals(4, launcher.launches, "no more launches once broken");
    assertTrue(launcher.process(3).kills >= 1, "the worker still starting is killed");
    assertTrue(firstReady.isCompletedExceptionally(), "firstReady fails");
    ExecutionException ee = assertThrows(ExecutionException.class, firstReady::get);
    WorkerStartException cause = assertInstanceOf(WorkerStartException.class, ee.getCause());
    assertTrue(cause.getMessage().startsWith("3 workers in a row failed to start; the last exited with code 1"),
        cause.getMessage());
    assertTrue(cause.getMessage().contains("Could not find or load main class"), cause.getMessage());

    WorkerStartException e = assertThrows(WorkerStartException.class, () -> submit("x"));
    assertTrue(e.getMessage().startsWith("the pool cannot run tasks: 3 workers in a row failed to start"),
        e.getMessage());
  }

  @Test
  void launchErrorsCountAsStartFailures() {
    launcher.failNextLaunches = 3;
    start(1);
    assertEquals(3, launcher.launches, "each failed launch is retried at once until the third");
    ExecutionException ee = assertThrows(ExecutionException.class, () -> supervisor.firstReady().get());
    assertTrue(ee.getCause().getMessage().contains("cannot launch a worker: no java on PATH"),
        ee.getCause().getMessage());
    assertThrows(WorkerStartException.class, () -> submit("x"));
  }

  @Test
  void startTimeoutKillsAWorkerThatNeverBecomesReady() throws Exception {
    start(1);
    connect(0); // connected, but READY never comes
    clock.advance(WorkerSupervisor.START_TIMEOUT.toNanos() - 1);
    assertEquals(0, launcher.process(0).kills);
    clock.advance(1);
    assertTrue(launcher.process(0).kills >= 1, "killed after the start timeout");
    assertEquals(1, launcher.launches, "the loss is reported by the connection's end");
    scheduler.workerLost(workerById(0), null);
    assertEquals(2, launcher.launches, "replaced at once: one start failure before the pool ran");
  }

  @Test
  void failingInitializerBreaksThePoolAtOnceBeforeItRan() throws Exception {
    start(2);
    WorkerHandle w0 = connect(0);
    supervisor.onInitFailed(w0, new IllegalStateException("no config file"));
    assertTrue(launcher.process(0).kills >= 1, "the worker whose initializer failed is killed");
    assertTrue(launcher.process(1).kills >= 1, "other starting workers are killed");
    assertTrue(supervisor.firstReady().isCompletedExceptionally());
    WorkerStartException e = assertThrows(WorkerStartException.class, () -> submit("x"));
    assertTrue(e.getMessage().contains("the pool's initializer failed in worker pid 1000: "
        + "java.lang.IllegalStateException: no config file"), e.getMessage());
  }

  @Test
  void afterThePoolRanStartFailuresBackOffFailQueuedTasksAndNeverBreakIt() throws Exception {
    start(1);
    WorkerHandle w0 = ready(0);
    warm(w0, SLOW);
    crash(w0, 137, null);
    assertEquals(2, launcher.launches, "a crash is replaced at once");
    SingleTask<Object> a = submit("a");
    SingleTask<Object> b = submit("b");

    failStart(1, 1); // 1st start failure in a row: 100 ms
    assertEquals(2, launcher.launches, "replacement delayed");
    clock.advance(100 * MS - 1);
    assertEquals(2, launcher.launches);
    clock.advance(1);
    assertEquals(3, launcher.launches, "after 100 ms");

    failStart(2, 1); // 2nd: 200 ms
    clock.advance(200 * MS - 1);
    assertEquals(3, launcher.launches, "back-off grows");
    clock.advance(1);
    assertEquals(4, launcher.launches, "after 200 ms");
    assertFalse(a.result.isDone(), "queued tasks wait while fewer than 3 starts failed");

    launcher.process(3).stderr = "Exception in thread main: boom";
    failStart(3, 1); // 3rd with no serving worker: queued tasks fail
    for (SingleTask<Object> t : List.of(a, b)) {
      WorkerStartException e = assertInstanceOf(WorkerStartException.class, failure(t));
      assertTrue(e.getMessage().startsWith("3 workers in a row failed to start; the last exited with code 1"),
          e.getMessage());
      assertTrue(e.getMessage().contains("(queued tasks fail; the pool keeps trying to start workers)"),
          e.getMessage());
    }
    assertUnfinished(0);

    SingleTask<Object> c = submit("c"); // not broken: accepted
    assertFalse(c.result.isDone());
    clock.advance(400 * MS - 1);
    assertEquals(4, launcher.launches, "third back-off is 400 ms");
    clock.advance(1);
    assertEquals(5, launcher.launches);
    WorkerHandle w4 = ready(4);
    assertEquals(ids(c), sent(w4), "the new worker serves the task submitted after the failures");
    result(w4, c, SLOW);
    assertEquals("value of " + c.id, value(c));

    // Its readiness reset the count: the next start failure backs off 100 ms again.
    crash(w4, 137, null);
    assertEquals(6, launcher.launches);
    failStart(5, 1);
    clock.advance(100 * MS);
    assertEquals(7, launcher.launches, "back-off restarts at 100 ms after a worker became ready");
  }

  @Test
  void backOffIsCappedAtTenSeconds() throws Exception {
    start(1);
    warm(ready(0), SLOW);
    crash(workerById(0), 137, null);
    int id = 1;
    for (int failures = 1; failures <= 12; failures++) {
      long expected = Math.min(WorkerSupervisor.MAX_BACKOFF.toNanos(),
          WorkerSupervisor.FIRST_BACKOFF.toNanos() << (failures - 1));
      int before = launcher.launches;
      failStart(id++, 1);
      clock.advance(expected - 1);
      assertEquals(before, launcher.launches, "failure " + failures + ": not before " + expected + " ns");
      clock.advance(1);
      assertEquals(before + 1, launcher.launches, "failure " + failures + ": relaunch after " + expected + " ns");
    }
  }

  @Test
  void externalWorkerWhoseInitializerFailsIsDroppedAndNotReplaced() throws Exception {
    start(1); // w0 launched, not ready yet: the pool has never run
    FakeConnection c = new FakeConnection("external");
    WorkerHandle ext = supervisor.onHello(c,
        new WorkerProtocol.Hello(WorkerProtocol.VERSION, WorkerSupervisor.EXTERNAL_WORKER_ID, 4242));
    assertTrue(ext.external);
    assertEquals(4242, ext.pid);
    assertEquals(List.of(WorkerProtocol.INIT), c.types(), "an external worker gets INIT too");

    supervisor.onInitFailed(ext, new IllegalStateException("no GPU here"));
    assertTrue(c.closed, "the external worker is dropped");
    scheduler.workerLost(ext, null);
    assertEquals(1, launcher.launches, "an external worker is never replaced");
    assertFalse(supervisor.firstReady().isDone(), "its failure does not break a pool that never ran");

    SingleTask<Object> a = submit("a"); // accepted
    WorkerHandle w0 = ready(0);
    assertEquals(ids(a), sent(w0));
    assertTrue(supervisor.firstReady().isDone() && !supervisor.firstReady().isCompletedExceptionally());
  }

  @Test
  void helloWithAnotherProtocolVersionOrUnknownIdIsRejected() throws Exception {
    start(1);
    ProtocolException v = assertThrows(ProtocolException.class,
        () -> supervisor.onHello(new FakeConnection("old"), new WorkerProtocol.Hello(1, 0, PID_BASE)));
    assertTrue(v.getMessage().contains("protocol version 1"), v.getMessage());
    assertThrows(ProtocolException.class,
        () -> supervisor.onHello(new FakeConnection("stranger"), new WorkerProtocol.Hello(WorkerProtocol.VERSION, 7, 7)),
        "a worker id the pool never launched");
    assertThrows(ProtocolException.class,
        () -> supervisor.onHello(new FakeConnection("impostor"),
            new WorkerProtocol.Hello(WorkerProtocol.VERSION, 0, 999)), "a pid that is not the launched one");
    connect(0);
    assertThrows(ProtocolException.class,
        () -> supervisor.onHello(new FakeConnection("twice"),
            new WorkerProtocol.Hello(WorkerProtocol.VERSION, 0, PID_BASE)), "a second HELLO for the same worker");
  }

  // ================================================================== worker state machine

  @Test
  void workerHandleRejectsIllegalTransitions() {
    WorkerHandle dead = new WorkerHandle(5, false);
    dead.gotoState(WorkerHandle.State.DEAD);
    IllegalStateException e = assertThrows(IllegalStateException.class,
        () -> dead.gotoState(WorkerHandle.State.READY));
    assertTrue(e.getMessage().contains("illegal transition DEAD -> READY"), e.getMessage());

    WorkerHandle stopping = new WorkerHandle(6, false);
    stopping.gotoState(WorkerHandle.State.READY);
    stopping.gotoState(WorkerHandle.State.STOPPING);
    IllegalStateException s = assertThrows(IllegalStateException.class,
        () -> stopping.gotoState(WorkerHandle.State.READY));
    assertTrue(s.getMessage().contains("illegal transition STOPPING -> READY"), s.getMessage());
    assertThrows(IllegalStateException.class, () -> stopping.gotoState(WorkerHandle.State.RETIRING),
        "STOPPING -> RETIRING");

    WorkerHandle starting = new WorkerHandle(7, false);
    assertThrows(IllegalStateException.class, () -> starting.gotoState(WorkerHandle.State.RETIRING),
        "STARTING -> RETIRING");
    WorkerHandle retiring = new WorkerHandle(8, false);
    retiring.gotoState(WorkerHandle.State.READY);
    retiring.gotoState(WorkerHandle.State.RETIRING);
    assertThrows(IllegalStateException.class, () -> retiring.gotoState(WorkerHandle.State.READY),
        "RETIRING -> READY");
    assertTrue(retiring.serving(), "RETIRING still serves what it holds");
    assertEquals(WorkerHandle.State.RETIRING, retiring.state(), "a rejected transition leaves the state unchanged");
  }

  @Test
  void workerLostIsIdempotent() throws Exception {
    start(1);
    WorkerHandle w0 = ready(0);
    SingleTask<Object> a = submit("a");
    crash(w0, 137, null);
    Throwable first = failure(a);
    scheduler.workerLost(w0, new IOException("again"));
    assertSame(first, failure(a), "a second loss report changes nothing");
    assertEquals(2, launcher.launches, "and launches no second replacement");
    assertUnfinished(0);
  }
}
