package io.procpool.core.internal;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import io.procpool.api.WorkerCrashedException;
import io.procpool.api.WorkerStartException;
import io.procpool.api.spi.Connection;
import io.procpool.api.spi.ProtocolException;
import io.procpool.core.internal.process.LaunchPlan;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;

/**
 * Worker lifecycle: launching, the handshake, start timeouts, process exit, kills, graceful stops,
 * replacement, and counting start failures.
 *
 * <p>Start failures (launch error, exit or timeout before READY, a failing initializer):
 * <ul>
 *   <li>before the pool ever ran a worker, a failing initializer breaks the pool at once and
 *       {@link #MAX_START_FAILURES} failures in a row break it (build() fails with the cause);
 *   <li>once it has run, the pool never breaks: replacements back off exponentially (up to
 *       {@link #MAX_BACKOFF}), and each time {@link #MAX_START_FAILURES} failures in a row happen
 *       while no worker serves, the queued tasks fail with a {@link WorkerStartException} naming the
 *       cause; a later submit tries again;
 *   <li>a worker that joined from elsewhere (external) never counts: it is dropped.
 * </ul>
 *
 * <p>Shares the {@link Scheduler}'s lock; methods named {@code *Locked} add effects to an outbox.
 */
final class WorkerSupervisor {
  private static final System.Logger LOG = System.getLogger("io.procpool");
  static final Duration START_TIMEOUT = Duration.ofSeconds(60);
  static final int MAX_START_FAILURES = 3;
  static final Duration GRACEFUL_EXIT = Duration.ofSeconds(20);
  static final Duration FIRST_BACKOFF = Duration.ofMillis(100);
  static final Duration MAX_BACKOFF = Duration.ofSeconds(10);
  /** The worker id of workers the pool did not start. */
  static final int EXTERNAL_WORKER_ID = -1;

  private final Scheduler scheduler;
  private final WorkerLauncher launcher;
  private final Supplier<String> address;
  private final boolean workersInProcess;
  private final ByteBuffer initMessage;
  private final PoolClock clock;
  private final CompletableFuture<Void> firstReady = new CompletableFuture<>();
  /** Exit futures of launched workers whose process has not exited yet. */
  private final Set<CompletableFuture<Integer>> liveProcesses = ConcurrentHashMap.newKeySet();
  @GuardedBy("scheduler.lock")
  private int nextWorkerId;
  @GuardedBy("scheduler.lock")
  private int startFailures;
  @GuardedBy("scheduler.lock")
  private boolean everReady;
  /** The pool's cluster, or null. */
  private final ClusterWorkers cluster;
  /** How many cluster workers the pool keeps ({@code scale}). */
  @GuardedBy("scheduler.lock")
  private int clusterTarget;

  WorkerSupervisor(Scheduler scheduler, WorkerLauncher launcher, Supplier<String> address, boolean workersInProcess,
      ByteBuffer initMessage) {
    this(scheduler, launcher, address, workersInProcess, initMessage, null, 0);
  }

  /**
   * @param cluster the pool's cluster workers, or null
   * @param clusterTarget how many cluster workers to keep at first
   */
  WorkerSupervisor(Scheduler scheduler, WorkerLauncher launcher, Supplier<String> address, boolean workersInProcess,
      ByteBuffer initMessage, ClusterWorkers cluster, int clusterTarget) {
    this.cluster = cluster;
    this.clusterTarget = clusterTarget;
    if (cluster != null) {
      cluster.setSupervisor(this);
    }
    this.scheduler = scheduler;
    this.launcher = launcher;
    this.address = address;
    this.workersInProcess = workersInProcess;
    this.initMessage = initMessage;
    this.clock = scheduler.clock();
    scheduler.setSupervisor(this);
  }

  /** Completes when the first worker is ready; fails if the pool breaks first. */
  CompletableFuture<Void> firstReady() {
    return firstReady;
  }

  // ------------------------------------------------------------------ launching

  /** Launches one worker unless the pool no longer needs one. */
  void spawn() {
    WorkerHandle w;
    scheduler.lock.lock();
    try {
      if (!scheduler.needsWorkersLocked()) {
        return;
      }
      w = new WorkerHandle(nextWorkerId++, false);
      scheduler.addWorkerLocked(w);
    } finally {
      scheduler.lock.unlock();
    }
    WorkerLauncher.Launched launched;
    try {
      launched = launcher.launch(w.id, address.get());
    } catch (IOException | RuntimeException e) {
      scheduler.workerLost(w, new WorkerStartException("cannot launch a worker: " + e.getMessage(), e));
      return;
    }
    boolean tooLate;
    scheduler.lock.lock();
    try {
      w.process = launched;
      w.pid = launched.pid();
      // terminate() or a failure may have come while the process was being launched.
      tooLate = w.is(WorkerHandle.State.DEAD) || w.killReason != null;
      if (!tooLate && w.is(WorkerHandle.State.STARTING)) {
        w.startTimeout = clock.schedule(() -> startTimedOut(w), START_TIMEOUT.toNanos());
      }
    } finally {
      scheduler.lock.unlock();
    }
    if (tooLate) {
      launched.kill();
    }
    CompletableFuture<Integer> exit = launched.onExit();
    liveProcesses.add(exit);
    exit.whenComplete((code, e) -> {
      liveProcesses.remove(exit);
      onProcessExit(w);
    });
  }

  private void replaceLocked(WorkerHandle gone, Outbox out, long delayNanos) {
    if (!scheduler.needsWorkersLocked()) {
      return;
    }
    Runnable spawn = gone.cluster ? this::ensureCluster : this::spawn;
    if (delayNanos <= 0) {
      if (gone.cluster) {
        ensureClusterLocked(out);
      } else {
        out.add(spawn);
      }
    } else {
      out.add(() -> clock.schedule(spawn, delayNanos));
    }
  }

  // ------------------------------------------------------------------ cluster workers

  Scheduler scheduler() {
    return scheduler;
  }

  /** How many cluster workers the pool keeps now. */
  int clusterTarget() {
    scheduler.lock.lock();
    try {
      return clusterTarget;
    } finally {
      scheduler.lock.unlock();
    }
  }

  /** Whether the pool has a cluster. */
  boolean hasCluster() {
    return cluster != null;
  }

  /** Asks the engine for the cluster workers the pool lacks (at build time, or after a delay). */
  void ensureCluster() {
    Outbox out = new Outbox();
    scheduler.lock.lock();
    try {
      ensureClusterLocked(out);
    } finally {
      scheduler.lock.unlock();
    }
    out.run();
  }

  /** Cluster workers that count toward the target: not leaving, not being killed. */
  private int clusterCountLocked() {
    int n = 0;
    for (WorkerHandle w : scheduler.workersLocked()) {
      if (w.cluster && w.killReason == null && (w.is(WorkerHandle.State.STARTING) || w.is(WorkerHandle.State.READY))) {
        n++;
      }
    }
    return n;
  }

  /**
   * Brings the cluster workers to the target: asks the engine for the missing ones in one request, or
   * lets the extra ones go (waiting jobs cancelled first, then idle workers stopped, then busy ones
   * retired after their tasks).
   */
  void ensureClusterLocked(Outbox out) {
    scheduler.assertLocked();
    if (cluster == null || clusterFailure != null || !scheduler.needsWorkersLocked()) {
      return;
    }
    int missing = clusterTarget - clusterCountLocked();
    if (missing > 0) {
      java.util.List<WorkerHandle> asked = new java.util.ArrayList<>(missing);
      for (int i = 0; i < missing; i++) {
        WorkerHandle w = new WorkerHandle(nextWorkerId++, false, true);
        scheduler.addWorkerLocked(w);
        asked.add(w);
      }
      out.add(() -> cluster.submit(asked));
      return;
    }
    int extra = -missing;
    for (int pass = 0; pass < 3 && extra > 0; pass++) {
      for (WorkerHandle w : scheduler.workersLocked()) {
        if (extra == 0) {
          break;
        }
        if (!w.cluster || w.killReason != null) {
          continue;
        }
        if (pass == 0 && w.is(WorkerHandle.State.STARTING)) {
          w.killReason = KillReason.unneeded();
          out.add(killer(w));
          extra--;
        } else if (pass == 1 && w.is(WorkerHandle.State.READY) && w.inflight.isEmpty() && w.recalls.isEmpty()) {
          stopLocked(w, out);
          extra--;
        } else if (pass == 2 && w.is(WorkerHandle.State.READY)) {
          w.gotoState(WorkerHandle.State.RETIRING);
          extra--;
        }
      }
    }
  }

  /** {@code pool.scale(n)}: a fixed count from now on (adaptive scaling ends). */
  void scale(int target) {
    Outbox out = new Outbox();
    scheduler.lock.lock();
    try {
      checkScalableLocked(target, "scale(0)");
      adaptive = null;
      clusterTarget = target;
      ensureClusterLocked(out);
    } finally {
      scheduler.lock.unlock();
    }
    out.run();
  }

  private void checkScalableLocked(int max, String what) {
    Scheduler.PoolState s = scheduler.stateLocked();
    if (s != Scheduler.PoolState.RUNNING) {
      throw new io.procpool.api.PoolClosedException("the pool is " + s.name().toLowerCase(java.util.Locale.ROOT)
          + "; it cannot be scaled");
    }
    if (clusterFailure != null) {
      throw new WorkerStartException(clusterFailure.getMessage(), clusterFailure.getCause());
    }
    if (max == 0 && !hasLocalWorkersLocked()) {
      throw new IllegalArgumentException(what + " would leave the pool without workers: it has no local ones"
          + " (processes(0))");
    }
  }

  /** Adaptive scaling: bounds and how long a surplus must last. */
  private record Adaptive(int min, int max, long scaleDownAfterNanos) {}

  @GuardedBy("scheduler.lock")
  private Adaptive adaptive;
  /** Since when (nanoTime) the adaptive count has wanted fewer workers than the target, or -1. */
  @GuardedBy("scheduler.lock")
  private long surplusSince = -1;
  @GuardedBy("scheduler.lock")
  private boolean adaptTicking;
  static final Duration ADAPT_INTERVAL = Duration.ofSeconds(1);

  /** {@code pool.adapt(min, max, scaleDownAfter)}. */
  void adapt(int min, int max, Duration scaleDownAfter) {
    if (min < 0 || max < min) {
      throw new IllegalArgumentException("adapt needs 0 <= min <= max, got min " + min + ", max " + max);
    }
    if (scaleDownAfter.isNegative()) {
      throw new IllegalArgumentException("scaleDownAfter must not be negative, got " + scaleDownAfter);
    }
    Outbox out = new Outbox();
    scheduler.lock.lock();
    try {
      checkScalableLocked(max, "adapt(" + min + ", 0)");
      adaptive = new Adaptive(min, max, scaleDownAfter.toNanos());
      surplusSince = -1;
      clusterTarget = Math.max(min, Math.min(max, clusterTarget));
      adaptLocked(out);
      ensureClusterLocked(out);
      if (!adaptTicking) {
        adaptTicking = true;
        out.add(() -> clock.schedule(this::adaptTick, ADAPT_INTERVAL.toNanos()));
      }
    } finally {
      scheduler.lock.unlock();
    }
    out.run();
  }

  private void adaptTick() {
    Outbox out = new Outbox();
    scheduler.lock.lock();
    try {
      if (adaptive == null || scheduler.stateLocked() != Scheduler.PoolState.RUNNING) {
        adaptTicking = false;
        return;
      }
      adaptLocked(out);
      out.add(() -> clock.schedule(this::adaptTick, ADAPT_INTERVAL.toNanos()));
    } finally {
      scheduler.lock.unlock();
    }
    out.run();
  }

  /** One worker per task queued or running, less the local workers, within the bounds. */
  private void adaptLocked(Outbox out) {
    int local = 0;
    for (WorkerHandle w : scheduler.workersLocked()) {
      if (!w.cluster && w.serving()) {
        local++;
      }
    }
    int wanted = Math.max(adaptive.min(), Math.min(adaptive.max(), scheduler.demandLocked() - local));
    long now = clock.nanoTime();
    if (wanted > clusterTarget) {
      clusterTarget = wanted;
      surplusSince = -1;
      ensureClusterLocked(out);
    } else if (wanted < clusterTarget) {
      if (surplusSince < 0) {
        surplusSince = now;
      }
      if (now - surplusSince >= adaptive.scaleDownAfterNanos()) {
        clusterTarget = wanted;
        surplusSince = -1;
        ensureClusterLocked(out);
      }
    } else {
      surplusSince = -1;
    }
  }

  private boolean hasLocalWorkersLocked() {
    for (WorkerHandle w : scheduler.workersLocked()) {
      if (!w.cluster && !w.external && !w.is(WorkerHandle.State.DEAD)) {
        return true;
      }
    }
    return false;
  }

  /** The engine accepted a job for {@code w}: it is now that worker's "process". */
  void clusterLaunched(WorkerHandle w, WorkerLauncher.Launched job) {
    boolean tooLate;
    scheduler.lock.lock();
    try {
      w.process = job;
      tooLate = w.is(WorkerHandle.State.DEAD) || w.killReason != null;
    } finally {
      scheduler.lock.unlock();
    }
    if (tooLate) {
      job.kill();
    }
    CompletableFuture<Integer> exit = job.onExit();
    liveProcesses.add(exit);
    exit.whenComplete((code, e) -> {
      liveProcesses.remove(exit);
      onProcessExit(w);
    });
  }

  /**
   * The engine started {@code w}'s job: from now on it has the usual time to connect and initialize
   * (a job may wait in the engine's queue for as long as the engine decides).
   */
  void clusterJobRunning(WorkerHandle w) {
    scheduler.lock.lock();
    try {
      if (w.is(WorkerHandle.State.STARTING) && w.killReason == null && w.startTimeout == null) {
        w.startTimeout = clock.schedule(() -> startTimedOut(w), START_TIMEOUT.toNanos());
      }
    } finally {
      scheduler.lock.unlock();
    }
  }

  /** A cluster worker silent this long is pinged. */
  static final Duration PING_AFTER = Duration.ofSeconds(2);
  /** A cluster worker silent this long (pings unanswered) is lost: its node was cut off or went down. */
  static final Duration SILENT_LIMIT = Duration.ofSeconds(8);
  static final Duration HEARTBEAT_INTERVAL = Duration.ofSeconds(1);

  /** Starts the cluster workers' heartbeat: every second until the pool ends. */
  void startHeartbeat() {
    clock.schedule(this::heartbeat, HEARTBEAT_INTERVAL.toNanos());
  }

  /**
   * Pings each connected cluster worker the pool has not heard from for {@link #PING_AFTER} (its
   * transport thread answers at once, even while it runs a long task), and drops one silent for
   * {@link #SILENT_LIMIT}: a node that is cut off or lost its power closes no connection, and the
   * transport's own keepalive may take much longer to notice.
   */
  private void heartbeat() {
    Outbox out = new Outbox();
    java.util.List<WorkerHandle> silent = new java.util.ArrayList<>();
    scheduler.lock.lock();
    try {
      Scheduler.PoolState s = scheduler.stateLocked();
      if (s != Scheduler.PoolState.RUNNING && s != Scheduler.PoolState.CLOSING) {
        return; // the pool has ended: no more ticks
      }
      long now = clock.nanoTime();
      for (WorkerHandle w : scheduler.workersLocked()) {
        if (!w.cluster || w.connection == null || w.is(WorkerHandle.State.DEAD) || w.killReason != null) {
          continue;
        }
        long quiet = now - w.lastHeardNanos;
        if (quiet >= SILENT_LIMIT.toNanos()) {
          silent.add(w);
        } else if (quiet >= PING_AFTER.toNanos()) {
          w.connection.write(WorkerProtocol.ping());
          scheduler.flushLater(w, out);
        }
      }
      out.add(() -> clock.schedule(this::heartbeat, HEARTBEAT_INTERVAL.toNanos()));
    } finally {
      scheduler.lock.unlock();
    }
    for (WorkerHandle w : silent) {
      LOG.log(System.Logger.Level.WARNING, "procpool: " + w + " did not answer for " + SILENT_LIMIT.toSeconds()
          + " s; it is dropped and its tasks fail (or run again with retryOnCrash)");
      scheduler.protocolError(w, new ProtocolException("no answer from it for " + SILENT_LIMIT.toSeconds()
          + " s (its node was cut off or went down?)"));
    }
    out.run();
  }

  /**
   * {@code w}'s job waits for a reason that cannot clear: the cluster cannot place workers as
   * configured. Before the pool ever ran, that breaks it (build() fails). After, the pool stops asking
   * the cluster for workers (another request would wait the same way), cancels those still waiting,
   * and goes on with the workers it has; {@code scale}/{@code adapt} then fail with this reason. If no
   * worker is left to serve, the pool breaks.
   */
  void clusterJobUnsatisfiable(WorkerHandle w, WorkerStartException failure) {
    boolean fatal;
    scheduler.lock.lock();
    try {
      fatal = !everReady;
    } finally {
      scheduler.lock.unlock();
    }
    if (fatal) {
      failStart(w, failure, "its job cannot start");
      return;
    }
    Outbox out = new Outbox();
    int serving = 0;
    scheduler.lock.lock();
    try {
      if (clusterFailure != null || !w.is(WorkerHandle.State.STARTING) || w.killReason != null) {
        return;
      }
      clusterFailure = failure;
      for (WorkerHandle x : scheduler.workersLocked()) {
        if (x.cluster && x.is(WorkerHandle.State.STARTING) && x.killReason == null) {
          x.killReason = KillReason.unneeded();
          out.add(killer(x));
        }
        if (x.serving() || (!x.cluster && !x.external && x.is(WorkerHandle.State.STARTING))) {
          serving++;
        }
      }
      if (serving == 0) {
        scheduler.breakLocked(failure, out);
      }
    } finally {
      scheduler.lock.unlock();
    }
    LOG.log(System.Logger.Level.WARNING, "procpool: " + failure.getMessage() + "; the pool asks the cluster for no more"
        + " workers (scale and adapt fail with this reason)"
        + (serving == 0 ? " and, with no worker left, cannot run tasks" : " and goes on with the " + serving
            + " worker(s) it has"));
    out.run();
  }

  /** Why the cluster cannot place workers (a request it can never satisfy), or null. */
  @GuardedBy("scheduler.lock")
  private WorkerStartException clusterFailure;

  private void startTimedOut(WorkerHandle w) {
    Runnable kill;
    scheduler.lock.lock();
    try {
      if (!w.is(WorkerHandle.State.STARTING) || w.killReason != null) {
        return;
      }
      w.killReason = KillReason.start();
      kill = killer(w);
    } finally {
      scheduler.lock.unlock();
    }
    LOG.log(System.Logger.Level.WARNING, "procpool: " + w + " did not become ready within "
        + START_TIMEOUT.toSeconds() + " s; killing it");
    kill.run();
  }

  private void onProcessExit(WorkerHandle w) {
    boolean connected;
    scheduler.lock.lock();
    try {
      if (w.is(WorkerHandle.State.DEAD)) {
        return;
      }
      connected = w.connection != null;
    } finally {
      scheduler.lock.unlock();
    }
    if (!connected) {
      scheduler.workerLost(w, null);
    } else {
      // Normally the end of the connection reports the death, after the last results were read.
      // If the connection somehow outlives the process, do not wait forever.
      clock.schedule(() -> scheduler.workerLost(w, new IOException("the worker exited but its connection stayed open")),
          TimeUnit.SECONDS.toNanos(2));
    }
  }

  /** An effect that ends {@code w} now: connection first (nothing it sends is delivered), then its process. */
  Runnable killer(WorkerHandle w) {
    scheduler.assertLocked();
    Connection c = w.connection;
    WorkerLauncher.Launched p = w.process;
    return () -> {
      if (c != null) {
        c.close();
      }
      if (p != null) {
        p.kill();
      }
    };
  }

  // ------------------------------------------------------------------ handshake and readiness

  /** A worker connected that the pool no longer wants (a cluster job cancelled as it started): not an error. */
  static final class NotNeeded extends ProtocolException {
    private static final long serialVersionUID = 1L;

    NotNeeded(String message) {
      super(message);
    }
  }

  /** A HELLO on a new connection: the worker it names (or a joining external one), now connected. */
  WorkerHandle onHello(Connection connection, WorkerProtocol.Hello hello) throws ProtocolException {
    if (hello.version() != WorkerProtocol.VERSION) {
      throw new ProtocolException("worker speaks protocol version " + hello.version() + ", this pool speaks "
          + WorkerProtocol.VERSION + " (mixed procpool versions on the classpath?)");
    }
    WorkerHandle w;
    scheduler.lock.lock();
    try {
      if (hello.workerId() == EXTERNAL_WORKER_ID) {
        // A worker started by hand (e.g. on another host) that proved the key: it joins the pool.
        Scheduler.PoolState s = scheduler.stateLocked();
        if ((s != Scheduler.PoolState.RUNNING && s != Scheduler.PoolState.CLOSING) || scheduler.brokenLocked()) {
          throw new ProtocolException("the pool is shutting down; worker pid " + hello.pid() + " cannot join");
        }
        if (hello.launchId() != null && cluster != null) {
          ClusterWorkers.Job job = cluster.job(hello.launchId());
          w = job == null ? null : job.worker;
          if (w != null && w.killReason != null && w.connection == null
              && (w.killReason.kind == KillReason.Kind.UNNEEDED || w.killReason.kind == KillReason.Kind.TERMINATE)) {
            throw new NotNeeded("cluster worker " + hello.launchId() + " connected after the pool stopped needing it;"
                + " its job is being cancelled");
          }
          if (w == null || !w.is(WorkerHandle.State.STARTING) || w.connection != null || w.killReason != null) {
            throw new ProtocolException("unexpected cluster worker with launch id " + hello.launchId() + " (pid "
                + hello.pid() + "): no waiting job of this pool has that id");
          }
        } else {
          w = new WorkerHandle(nextWorkerId++, true);
          scheduler.addWorkerLocked(w);
        }
      } else {
        w = scheduler.workerLocked(hello.workerId());
        if (w == null || !w.is(WorkerHandle.State.STARTING) || w.connection != null
            || (!workersInProcess && w.pid > 0 && w.pid != hello.pid())) {
          throw new ProtocolException("unexpected worker " + hello.workerId() + " (pid " + hello.pid() + ")");
        }
      }
      w.connection = connection;
      w.pid = hello.pid();
      w.lastHeardNanos = clock.nanoTime();
    } finally {
      scheduler.lock.unlock();
    }
    connection.write(initMessage.duplicate());
    try {
      connection.flush();
    } catch (IOException e) {
      // onClosed reports it
    }
    return w;
  }

  void readyLocked(WorkerHandle w, Outbox out) {
    scheduler.assertLocked();
    startFailures = 0;
    everReady = true;
    if (w.startTimeout != null) {
      w.startTimeout.cancel();
    }
    out.add(() -> firstReady.complete(null));
  }

  /** The worker's initializer failed. */
  void onInitFailed(WorkerHandle w, Throwable error) {
    failStart(w, new WorkerStartException("the pool's initializer failed in worker pid " + w.pid + ": " + error, error),
        "the initializer failed");
  }

  /**
   * {@code w} cannot start for a reason that another try would not change: before the pool ever ran
   * this breaks it; after, it counts as a start failure.
   */
  private void failStart(WorkerHandle w, WorkerStartException failure, String what) {
    Runnable kill;
    WorkerStartException breakWith = null;
    Outbox out = new Outbox();
    Throwable error = failure.getCause() != null ? failure.getCause() : failure;
    scheduler.lock.lock();
    try {
      if (!w.is(WorkerHandle.State.STARTING) || w.killReason != null) {
        return;
      }
      if (!everReady && !w.external) {
        breakWith = failure;
        scheduler.breakLocked(failure, out);
        out.add(() -> firstReady.completeExceptionally(failure));
        killStartingLocked(out);
      } else {
        w.initFailure = failure;
      }
      w.killReason = KillReason.start();
      kill = killer(w);
    } finally {
      scheduler.lock.unlock();
    }
    if (breakWith == null) {
      LOG.log(System.Logger.Level.WARNING, "procpool: " + what + " in " + w + "; "
          + (w.external ? "it is dropped" : "it will be replaced") + ": " + error);
    }
    kill.run();
    out.run();
  }

  private void killStartingLocked(Outbox out) {
    for (WorkerHandle x : scheduler.workersLocked()) {
      if (x.is(WorkerHandle.State.STARTING) && x.killReason == null) {
        x.killReason = KillReason.start();
        out.add(killer(x));
      }
    }
  }

  // ------------------------------------------------------------------ stopping and loss

  /** Tells {@code w} to exit once it has nothing to do. */
  void stopLocked(WorkerHandle w, Outbox out) {
    scheduler.assertLocked();
    w.gotoState(WorkerHandle.State.STOPPING);
    w.connection.write(WorkerProtocol.shutdown());
    scheduler.flushLater(w, out);
  }

  /** {@code w} finished its last task as a retiring worker: stop it and replace it if needed. */
  void retireLocked(WorkerHandle w, Outbox out) {
    stopLocked(w, out);
    if (!w.external) {
      replaceLocked(w, out, 0);
    }
  }

  /**
   * {@code w} left the pool (the scheduler has dealt with its tasks): end its process, count a start
   * failure, replace it.
   */
  void workerGoneLocked(WorkerHandle w, WorkerHandle.State previous, Throwable cause, Outbox out) {
    scheduler.assertLocked();
    if (w.startTimeout != null) {
      w.startTimeout.cancel();
    }
    WorkerLauncher.Launched p = w.process;
    if (previous == WorkerHandle.State.STOPPING && p != null) {
      // It was told to exit and is doing so (shutdown hooks, maybe its class-data archive): let it,
      // but not forever.
      // The backstop is withdrawn as soon as it exits, so that no timer outlives the pool by 20 s.
      out.add(() -> {
        Cancellable kill = clock.schedule(p::kill, GRACEFUL_EXIT.toNanos());
        p.onExit().whenComplete((code, e) -> kill.cancel());
      });
    } else {
      out.add(killer(w));
    }
    scheduler.signalChangedLocked();
    if (w.external || previous == WorkerHandle.State.STOPPING) {
      return;
    }
    KillReason reason = w.killReason;
    boolean startFailure = previous == WorkerHandle.State.STARTING
        && (reason == null || reason.kind == KillReason.Kind.START);
    if (!startFailure) {
      if (reason == null || (reason.kind != KillReason.Kind.TERMINATE && reason.kind != KillReason.Kind.UNNEEDED)) {
        replaceLocked(w, out, 0);
      }
      return;
    }
    if (scheduler.brokenLocked() || !scheduler.needsWorkersLocked()) {
      return;
    }
    startFailures++;
    Throwable why = w.initFailure != null ? w.initFailure : cause;
    if (!everReady) {
      if (startFailures >= MAX_START_FAILURES) {
        WorkerStartException giveUp = startFailure(w, why);
        scheduler.breakLocked(giveUp, out);
        out.add(() -> firstReady.completeExceptionally(giveUp));
        killStartingLocked(out);
        return;
      }
      replaceLocked(w, out, 0);
      return;
    }
    if (startFailures % MAX_START_FAILURES == 0 && !scheduler.hasServingWorkerLocked()) {
      WorkerStartException failure = startFailure(w, why);
      scheduler.failPendingLocked(new WorkerStartException(failure.getMessage()
          + " (queued tasks fail; the pool keeps trying to start workers)", failure.getCause()), out);
      out.add(() -> LOG.log(System.Logger.Level.WARNING, "procpool: " + failure.getMessage()));
    }
    long backoff = Math.min(MAX_BACKOFF.toNanos(), FIRST_BACKOFF.toNanos() << Math.min(20, startFailures - 1));
    replaceLocked(w, out, backoff);
  }

  private WorkerStartException startFailure(WorkerHandle w, Throwable cause) {
    Integer code = exitCode(w);
    WorkerLauncher.Launched p = w.process;
    String tail = p == null ? "" : p.stderrTail();
    String launch = p == null || p.launchDescription() == null ? ""
        : "; workers were started with " + p.launchDescription()
            + (LaunchPlan.couldNotLoadClass(tail) ? ", and the last one could not load a class: " + p.launchFix() : "");
    return new WorkerStartException(MAX_START_FAILURES + " workers in a row failed to start"
        + (code != null ? "; the last " + WorkerCrashedException.describeExitCode(code) : "")
        + (cause != null ? "; " + cause.getMessage() : "")
        + launch
        + (tail.isEmpty() ? "" : "; its stderr ended with:\n" + tail), cause);
  }

  private static Integer exitCode(WorkerHandle w) {
    WorkerLauncher.Launched p = w.process;
    if (p == null) {
      return null;
    }
    try {
      return p.onExit().getNow(null);
    } catch (RuntimeException e) {
      return null;
    }
  }

  /** Waits (until {@code deadline}, a nanoTime) for every launched process to exit. */
  void awaitProcessesExit(long deadline) {
    try {
      CompletableFuture.allOf(liveProcesses.toArray(new CompletableFuture<?>[0]))
          .get(Math.max(1, Math.min(deadline - System.nanoTime(), TimeUnit.SECONDS.toNanos(30))), TimeUnit.NANOSECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (ExecutionException | TimeoutException e) {
      LOG.log(System.Logger.Level.WARNING, "procpool: worker processes did not exit in time: " + e);
    }
  }
}
