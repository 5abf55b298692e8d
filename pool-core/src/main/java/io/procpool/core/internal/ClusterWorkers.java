package io.procpool.core.internal;

import io.procpool.api.WorkerStartException;
import io.procpool.api.cluster.ClusterSession;
import io.procpool.api.cluster.JobStatus;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The pool's side of its {@link ClusterSession}: asks the engine for workers, follows their jobs and
 * tells the {@link WorkerSupervisor} what the engine says (running, waiting for a reason that can
 * never clear, ended with a verdict), cancels jobs, and cleans up when the pool ends.
 *
 * <p>Every engine call runs on one thread of its own ({@code procpool-N-cluster}), never under the
 * scheduler's lock: engine calls are command lines that may take a while.
 */
final class ClusterWorkers {
  private static final System.Logger LOG = System.getLogger("io.procpool");
  /** A job the engine stopped listing is taken as ended after this many polls without it. */
  private static final int MISSING_POLLS = 3;
  private static final int LOG_TAIL_LINES = 30;

  private final ClusterSession session;
  private final String engineName;
  private final ScheduledExecutorService engine;
  /** The session's jobs that have not ended, by launch id. */
  private final Map<String, Job> jobs = new ConcurrentHashMap<>();
  private final AtomicBoolean pollQueued = new AtomicBoolean();
  private final long pollNanos;
  /** A job waiting for a reason that can never clear is given up after this long. */
  private final long graceNanos;
  private volatile WorkerSupervisor supervisor;
  private volatile boolean shutDown;
  private ScheduledFuture<?> nextPoll;

  ClusterWorkers(ClusterSession session, String engineName, int poolId) {
    this.session = session;
    this.engineName = engineName;
    this.engine = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "procpool-" + poolId + "-cluster");
      t.setDaemon(true);
      return t;
    });
    this.pollNanos = Math.max(TimeUnit.MILLISECONDS.toNanos(100), session.pollInterval().toNanos());
    this.graceNanos = Math.max(0, session.pendingGrace().toNanos());
  }

  void setSupervisor(WorkerSupervisor supervisor) {
    this.supervisor = supervisor;
  }

  String engineName() {
    return engineName;
  }

  /** The job behind a HELLO's launch id, or null. */
  Job job(String launchId) {
    return jobs.get(launchId);
  }

  /**
   * Asks the engine for a worker for each of {@code workers} (registered, STARTING), in one request.
   * Returns at once; the supervisor hears about each job ({@link WorkerSupervisor#clusterLaunched}) or
   * the refusal ({@link Scheduler#workerLost}).
   */
  void submit(List<WorkerHandle> workers) {
    run(() -> {
      List<String> ids;
      try {
        ids = session.submit(workers.size());
        if (ids.size() != workers.size()) {
          throw new IOException("the " + engineName + " session returned " + ids.size() + " launch ids for "
              + workers.size() + " workers");
        }
      } catch (IOException | RuntimeException e) {
        WorkerStartException refused = new WorkerStartException("the " + engineName
            + " cluster refused the request for " + workers.size() + " worker(s): " + e.getMessage(), e);
        for (WorkerHandle w : workers) {
          supervisor.scheduler().workerLost(w, refused);
        }
        return;
      }
      for (int i = 0; i < ids.size(); i++) {
        Job j = new Job(ids.get(i), workers.get(i));
        jobs.put(j.launchId, j);
        supervisor.clusterLaunched(j.worker, j);
      }
      schedulePoll();
    }, () -> {
      WorkerStartException closed = new WorkerStartException("the pool is shutting down");
      workers.forEach(w -> supervisor.scheduler().workerLost(w, closed));
    });
  }

  private void run(Runnable action, Runnable ifShutDown) {
    try {
      engine.execute(() -> {
        try {
          action.run();
        } catch (RuntimeException e) {
          LOG.log(System.Logger.Level.WARNING, "procpool: " + engineName + " cluster call failed", e);
        }
      });
    } catch (RejectedExecutionException e) {
      ifShutDown.run();
    }
  }

  private synchronized void schedulePoll() {
    if (shutDown || (nextPoll != null && !nextPoll.isDone() && nextPoll.getDelay(TimeUnit.NANOSECONDS) > 0)) {
      return;
    }
    try {
      long delay = System.nanoTime() < fastUntil ? FAST_POLL : pollNanos;
      nextPoll = engine.schedule(this::poll, delay, TimeUnit.NANOSECONDS);
    } catch (RejectedExecutionException e) {
      // shutting down
    }
  }

  /** Until when (nanoTime) polls come every {@link #FAST_POLL}: someone waits for a verdict. */
  private volatile long fastUntil;
  private static final long FAST_POLL = TimeUnit.MILLISECONDS.toNanos(150);
  private static final long FAST_FOR = TimeUnit.MILLISECONDS.toNanos(1500);

  /** Polls now and then often for a little while: a worker was lost and its job's verdict is wanted. */
  void pollFast() {
    fastUntil = System.nanoTime() + FAST_FOR;
    synchronized (this) {
      if (nextPoll != null) {
        nextPoll.cancel(false);
        nextPoll = null;
      }
    }
    pollNow();
  }

  /** Polls as soon as the engine thread is free (coalesced). */
  void pollNow() {
    if (pollQueued.compareAndSet(false, true)) {
      run(this::poll, () -> { });
    }
  }

  private void poll() {
    pollQueued.set(false);
    synchronized (this) {
      if (nextPoll != null && nextPoll.isDone()) {
        nextPoll = null;
      }
    }
    if (jobs.isEmpty()) {
      return;
    }
    Map<String, JobStatus> states;
    try {
      states = session.poll();
    } catch (IOException | RuntimeException e) {
      LOG.log(System.Logger.Level.DEBUG, "procpool: could not ask the " + engineName + " cluster for its jobs: " + e);
      schedulePoll();
      return;
    }
    long now = System.nanoTime();
    for (Job j : new ArrayList<>(jobs.values())) {
      JobStatus st = states.get(j.launchId);
      if (st == null) {
        if (++j.missing >= MISSING_POLLS) {
          j.ended(null, null);
        }
        continue;
      }
      j.missing = 0;
      j.last = st;
      switch (st.phase()) {
        case PENDING:
          if (st.permanent()) {
            if (j.unsatisfiableSince == 0) {
              j.unsatisfiableSince = now;
            }
            if (now - j.unsatisfiableSince >= graceNanos && !j.givenUp) {
              j.givenUp = true;
              supervisor.clusterJobUnsatisfiable(j.worker, new WorkerStartException(session.describe(j.launchId)
                  + " cannot start: the " + engineName + " cluster keeps it pending for the reason '" + st.reason()
                  + "', which cannot clear as the cluster is configured (e.g. more CPUs, memory, nodes or time"
                  + " than its partition allows); it was cancelled"));
            }
          } else {
            j.unsatisfiableSince = 0;
          }
          break;
        case RUNNING:
          if (!j.running) {
            j.running = true;
            supervisor.clusterJobRunning(j.worker);
          }
          break;
        case ENDED:
          j.ended(st.verdict(), st.exitCode());
          break;
        default:
          break;
      }
    }
    if (!jobs.isEmpty()) {
      schedulePoll();
    }
  }

  /**
   * When the pool has ended: cancels every job of the session (pending ones too), waits for the engine
   * to confirm (up to {@code timeout}), deletes what was staged, stops the engine thread. Idempotent.
   */
  void shutdown(Duration timeout) {
    synchronized (this) {
      if (shutDown) {
        return;
      }
      shutDown = true;
      if (nextPoll != null) {
        nextPoll.cancel(false);
      }
    }
    CompletableFuture<Void> done = new CompletableFuture<>();
    try {
      engine.execute(() -> {
        try {
          if (!session.cancelAll(timeout)) {
            LOG.log(System.Logger.Level.WARNING, "procpool: the " + engineName + " cluster did not confirm within "
                + timeout.toSeconds() + " s that every job of the pool ended: " + jobs.keySet());
          }
        } catch (IOException | RuntimeException e) {
          LOG.log(System.Logger.Level.WARNING, "procpool: could not cancel the pool's " + engineName + " jobs "
              + jobs.keySet() + ": " + e.getMessage());
        } finally {
          session.close();
          for (Job j : new ArrayList<>(jobs.values())) {
            j.ended(j.verdict, null);
          }
          done.complete(null);
        }
      });
      done.get(timeout.toMillis() + 5_000, TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (Exception e) {
      LOG.log(System.Logger.Level.WARNING, "procpool: ending the " + engineName + " session: " + e);
    } finally {
      engine.shutdown();
    }
  }

  /** One job: the worker's "process" as the supervisor sees it. */
  final class Job implements WorkerLauncher.Launched {
    final String launchId;
    final WorkerHandle worker;
    private final CompletableFuture<Integer> exit = new CompletableFuture<>();
    private final AtomicBoolean cancelled = new AtomicBoolean();
    volatile JobStatus last;
    volatile String verdict;
    // Engine thread only:
    int missing;
    long unsatisfiableSince;
    boolean running;
    boolean givenUp;

    Job(String launchId, WorkerHandle worker) {
      this.launchId = launchId;
      this.worker = worker;
    }

    void ended(String verdict, Integer exitCode) {
      if (verdict != null) {
        this.verdict = verdict;
      }
      jobs.remove(launchId);
      exit.complete(exitCode);
    }

    @Override
    public long pid() {
      return -1; // not known until it connects; then its HELLO says (a pid on another host)
    }

    @Override
    public CompletableFuture<Integer> onExit() {
      return exit;
    }

    @Override
    public CompletableFuture<Integer> exitSoon() {
      if (!exit.isDone()) {
        pollFast();
      }
      return exit;
    }

    @Override
    public void kill() {
      if (exit.isDone() || !cancelled.compareAndSet(false, true)) {
        return;
      }
      run(() -> {
        try {
          session.cancel(launchId);
        } catch (IOException | RuntimeException e) {
          LOG.log(System.Logger.Level.WARNING, "procpool: could not cancel " + session.describe(launchId) + ": "
              + e.getMessage() + " (it is cancelled with the others when the pool ends)");
        }
        pollFast();
      }, () -> { });
    }

    @Override
    public String stderrTail() {
      try {
        return session.logTail(launchId, LOG_TAIL_LINES);
      } catch (RuntimeException e) {
        return "";
      }
    }

    @Override
    public String launchDescription() {
      return session.describe(launchId) + " of the " + engineName + " cluster";
    }

    @Override
    public String launchFix() {
      return "make the worker classpath visible on the cluster's nodes (the cluster's staging directory)";
    }

    @Override
    public String verdict() {
      return verdict;
    }

    @Override
    public String describe() {
      return session.describe(launchId);
    }
  }
}
