package io.procpool.api.cluster;

import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * What a cluster engine says about one job.
 *
 * @param phase pending, running or ended
 * @param reason why a pending job waits, in the engine's words (Slurm: {@code Resources},
 *     {@code Priority}, {@code PartitionConfig}, ...), or {@code null}
 * @param permanent whether {@code reason} can never clear by itself (the request cannot be met by
 *     this cluster as configured): the pool fails such a job after a grace period, naming the reason
 * @param node the host the job runs or ran on, or {@code null}
 * @param verdict how an ended job ended, in the engine's words (Slurm: {@code COMPLETED},
 *     {@code FAILED}, {@code CANCELLED}, {@code TIMEOUT}, {@code NODE_FAIL}, {@code OUT_OF_MEMORY},
 *     ...), or {@code null}
 * @param exitCode an ended job's exit code ({@code 128 + n} for signal {@code n}), or {@code null}
 */
public record JobStatus(Phase phase, String reason, boolean permanent, String node, String verdict,
    Integer exitCode) {

  /** The life of a job as the engine sees it. */
  public enum Phase {
    /** Queued: waiting for resources, priority, or forever (see {@link JobStatus#permanent()}). */
    PENDING,
    /** Started on a node (the worker may not have connected yet). */
    RUNNING,
    /** Over: completed, failed, cancelled, timed out, lost with its node. Final. */
    ENDED
  }

  public JobStatus {
    Objects.requireNonNull(phase, "phase");
  }

  /** A pending job. */
  public static JobStatus pending(String reason, boolean permanent) {
    return new JobStatus(Phase.PENDING, reason, permanent, null, null, null);
  }

  /** A running job. */
  public static JobStatus running(String node) {
    return new JobStatus(Phase.RUNNING, null, false, node, null, null);
  }

  /** An ended job. */
  public static JobStatus ended(String verdict, Integer exitCode, String node) {
    return new JobStatus(Phase.ENDED, null, false, node, verdict, exitCode);
  }

  /** The verdict of an ended job, if known. */
  public Optional<String> verdictIfKnown() {
    return Optional.ofNullable(verdict);
  }

  /** The exit code of an ended job, if known. */
  public OptionalInt exitCodeIfKnown() {
    return exitCode == null ? OptionalInt.empty() : OptionalInt.of(exitCode);
  }
}
