package io.procpool.api;

import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * A consistent snapshot of a pool's counters, from {@link ProcessPool#stats()}. Counts are tasks as a
 * user submits them: one per {@code apply}/{@code applyAsync}, one per input item of a {@code map}
 * or {@code imap} (whatever the chunk size). Every submitted task is in exactly one state, so
 * {@code submitted() == completed() + failed() + cancelled() + queued() + running()}.
 *
 * @param submitted tasks accepted since the pool started
 * @param completed tasks that returned a value
 * @param failed tasks that ended without a value: the task threw, its worker crashed, it timed out,
 *     its worker could not start, or the pool was terminated (items of a chunk after the one that
 *     threw count as failed: they never ran)
 * @param cancelled tasks cancelled before they had an outcome (including the chunks a failing
 *     {@code map} withdraws)
 * @param queued tasks waiting in the pool for a worker
 * @param running tasks a worker holds: the one it runs and those queued on it behind that one
 * @param workersStarted workers that became ready, replacements included
 * @param workersLost workers that ended without the pool asking them to: crashed, or killed for a
 *     task timeout, a cancel with interruption or a protocol error (not: retired, stopped by
 *     {@code close()}, killed by {@code terminate()})
 * @param runTime the total time workers spent running the completed and failed tasks (as the
 *     worker measured it; for a task whose worker died or was killed while running it, from when the
 *     worker was free for it until the loss was noticed)
 * @param waitTime the total time the completed and failed tasks spent not running between
 *     submission and their outcome: queued in the pool or in a worker, and in transit (an item of a
 *     chunk counts its chunk's wait). With {@code runTime}, it covers exactly
 *     {@code completed() + failed()} tasks; cancelled tasks are in neither
 * @param bytesSent bytes of tasks and functions written to workers
 * @param bytesReceived bytes of messages received from workers
 * @param workers the live workers, in the order they were started
 */
public record PoolStats(
    long submitted,
    long completed,
    long failed,
    long cancelled,
    long queued,
    long running,
    long workersStarted,
    long workersLost,
    Duration runTime,
    Duration waitTime,
    long bytesSent,
    long bytesReceived,
    List<WorkerStats> workers) {

  /** Copies the worker list. */
  public PoolStats {
    Objects.requireNonNull(runTime, "runTime");
    Objects.requireNonNull(waitTime, "waitTime");
    workers = List.copyOf(workers);
  }

  /** Tasks with an outcome: {@code completed() + failed() + cancelled()}. */
  public long finished() {
    return completed + failed + cancelled;
  }
}
