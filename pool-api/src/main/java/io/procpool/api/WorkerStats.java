package io.procpool.api;

import java.time.Duration;
import java.time.Instant;
import java.util.Objects;

/**
 * One worker in a {@link PoolStats} snapshot.
 *
 * @param pid the worker's process id; {@code -1} for an in-JVM ({@code threads}) worker, or before
 *     the process is known
 * @param tasksCompleted tasks (map items counted one by one) this worker ran that returned a value
 * @param tasksFailed tasks this worker ran that threw
 * @param busy the time it spent running the tasks it finished
 * @param startedAt when the pool launched it (or, for a worker started by hand, when it joined)
 * @param state what it is doing
 */
public record WorkerStats(long pid, long tasksCompleted, long tasksFailed, Duration busy, Instant startedAt,
    State state) {

  /** What a worker is doing. */
  public enum State {
    /** Launched, not ready for tasks yet. */
    STARTING,
    /** Ready, holding no task. */
    IDLE,
    /**
     * Holding at least one task (possibly one that was cancelled: being given back, or running to its
     * end).
     */
    BUSY,
    /** Leaving: retiring ({@code maxTasksPerChild}, {@code maxMemoryPerChild}) or stopping. */
    RETIRING
  }

  /** Validates the components. */
  public WorkerStats {
    Objects.requireNonNull(busy, "busy");
    Objects.requireNonNull(startedAt, "startedAt");
    Objects.requireNonNull(state, "state");
  }

  /**
   * The share of its life so far spent running tasks, from 0.0 to 1.0, measured at {@code now}
   * (use the time the snapshot was taken).
   */
  public double busyFraction(Instant now) {
    long life = Duration.between(startedAt, now).toNanos();
    return life <= 0 ? 0.0 : Math.min(1.0, (double) busy.toNanos() / life);
  }
}
