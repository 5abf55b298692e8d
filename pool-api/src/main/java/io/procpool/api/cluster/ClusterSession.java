package io.procpool.api.cluster;

import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * One pool's use of a {@link Cluster}: the jobs it launched and the files it staged.
 *
 * <p>Every worker is one engine job (for Slurm, one task of a job array) identified by its
 * <em>launch id</em>, a string that the worker also finds in its environment variable
 * {@link WorkerCommand#LAUNCH_ID_ENV} and sends to the pool when it connects, so that the pool knows
 * which job each connection belongs to. The session must arrange for that variable to be set.
 *
 * <p>The pool calls these methods from its own threads, never two at a time on one session except
 * {@link #cancel(String)}, which may run concurrently with {@link #poll()}. They may block on the
 * engine (a command-line call); none is called while the pool holds a lock.
 */
public interface ClusterSession extends AutoCloseable {

  /**
   * Asks the engine for {@code count} workers, in one engine call when it can (e.g. a job array).
   *
   * @return the launch ids of the new jobs, {@code count} of them
   * @throws IOException if the engine refused the request; the message says why (the engine's words)
   */
  List<String> submit(int count) throws IOException;

  /**
   * The engine's view, now, of the jobs this session launched. A job the engine has forgotten after it
   * ended may be reported as {@link JobStatus.Phase#ENDED} with what is known, or left out.
   *
   * @throws IOException if the engine could not be asked; the pool tries again later
   */
  Map<String, JobStatus> poll() throws IOException;

  /**
   * Cancels one job, pending or running; returns once the engine has accepted the request (the job
   * may still be ending).
   */
  void cancel(String launchId) throws IOException;

  /**
   * Cancels every job this session launched, pending ones included, and waits until the engine no
   * longer lists any of them as pending or running, or {@code timeout} passed.
   *
   * @return whether the engine confirmed that every job ended
   */
  boolean cancelAll(Duration timeout) throws IOException;

  /**
   * The last lines the job wrote to its output (stdout and stderr), for error messages; empty when
   * there is none or it cannot be read.
   */
  String logTail(String launchId, int maxLines);

  /** How often the pool should {@link #poll()} while it has jobs; the engine's load decides. */
  default Duration pollInterval() {
    return Duration.ofSeconds(1);
  }

  /**
   * How long a job may stay pending for a reason the engine calls permanent
   * ({@link JobStatus#permanent()}) before the pool cancels it and reports a start failure naming
   * that reason (some engines report such reasons briefly while they reconfigure).
   */
  default Duration pendingGrace() {
    return Duration.ofSeconds(10);
  }

  /**
   * A short description of the job for messages, e.g. {@code "Slurm job 4242_3"}.
   */
  default String describe(String launchId) {
    return "job " + launchId;
  }

  /**
   * Deletes what this session staged for its workers (the handed-over secret first). Called after
   * {@link #cancelAll}; must not throw.
   */
  @Override
  void close();
}
