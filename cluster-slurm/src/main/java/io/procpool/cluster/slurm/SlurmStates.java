package io.procpool.cluster.slurm;

import io.procpool.api.cluster.JobStatus;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/** squeue's words turned into {@link JobStatus}. */
final class SlurmStates {
  private SlurmStates() {}

  /**
   * The squeue {@code --Format} this class parses: one line per array task, fields separated by
   * {@code |}, the reason last (it may contain spaces and commas).
   */
  static final String SQUEUE_FORMAT = "JobArrayID:0|,State:0|,NodeList:0|,exit_code:0|,Reason:0";

  /** Job states after which nothing runs any more: Slurm's final states. */
  static final Set<String> ENDED = Set.of("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY",
      "BOOT_FAIL", "DEADLINE", "PREEMPTED", "REVOKED", "SPECIAL_EXIT");

  /** Waiting states: not placed (again) yet. */
  static final Set<String> WAITING = Set.of("PENDING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESV_DEL_HOLD");

  /**
   * Pending reasons that never clear by themselves: the request cannot be met by the cluster as
   * configured (squeue(1), "JOB REASON CODES", and Slurm's resource limits page: the per-job
   * {@code AssocMax*PerJob*} and {@code QOSMax*PerJob*} limits and the {@code Min*} ones, unlike the
   * aggregate {@code Grp*} limits and per-user counts, which clear when other jobs end).
   */
  private static final Set<String> PERMANENT = Set.of("PartitionConfig", "PartitionNodeLimit", "PartitionTimeLimit",
      "BadConstraints", "DependencyNeverSatisfied", "InvalidAccount", "InvalidQOS", "AccountNotAllowed",
      "QOSNotAllowed", "JobHoldMaxRequeue", "launch failed requeued held", "MaxMemPerLimit");
  private static final Pattern PERMANENT_LIMIT = Pattern.compile("(Assoc|QOS)(Max\\w*PerJob\\w*|Min\\w*)");

  /** Whether a pending job waiting for {@code reason} waits forever. */
  static boolean permanent(String reason) {
    if (reason == null) {
      return false;
    }
    String r = reason.strip();
    return PERMANENT.contains(r) || PERMANENT_LIMIT.matcher(r).matches();
  }

  /**
   * An exit code from squeue's {@code exit_code}, which is the batch script's raw wait status:
   * {@code code << 8} when it exited, the signal number when a signal killed it ({@code 128 + n}).
   */
  static Integer exitCode(String waitStatus) {
    int s;
    try {
      s = Integer.parseInt(waitStatus.strip());
    } catch (NumberFormatException e) {
      return null;
    }
    int signal = s & 0x7f;
    return signal == 0 ? (s >> 8) & 0xff : 128 + signal;
  }

  /**
   * Parses squeue output in {@link #SQUEUE_FORMAT}: launch id (e.g. {@code 4242_3}) to status. Lines
   * that are not in that form are skipped.
   */
  static Map<String, JobStatus> parse(String squeueOutput) {
    Map<String, JobStatus> all = new LinkedHashMap<>();
    for (String line : squeueOutput.split("\n")) {
      List<String> f = List.of(line.split("\\|", 5));
      if (f.size() < 5 || f.get(0).isBlank()) {
        continue;
      }
      all.put(f.get(0).strip(), status(f.get(1).strip(), f.get(2).strip(), f.get(3).strip(), f.get(4).strip()));
    }
    return all;
  }

  /** One job's status from its squeue fields. */
  static JobStatus status(String state, String nodeList, String exitCode, String reason) {
    String node = nodeList.isEmpty() || nodeList.equals("(null)") ? null : nodeList;
    String why = reason.isEmpty() || reason.equals("None") || reason.equals("(null)") ? null : reason;
    // squeue may add a suffix to a state (e.g. "CANCELLED by 0" in some versions): the first word counts.
    String st = state.split("[ +]", 2)[0];
    if (WAITING.contains(st)) {
      String r = why != null ? why : (st.equals("PENDING") ? null : st);
      return JobStatus.pending(r, permanent(why));
    }
    if (ENDED.contains(st)) {
      // A job that never started has no node and no exit code worth the name.
      return JobStatus.ended(st, node == null ? null : exitCode(exitCode), node);
    }
    // RUNNING, CONFIGURING, COMPLETING, SUSPENDED, STOPPED, SIGNALING, RESIZING, STAGE_OUT, or a state
    // newer than this code: placed and not over.
    if (node == null) {
      return JobStatus.pending(why != null ? why : st, false);
    }
    return JobStatus.running(node);
  }

  /** Whether squeue's state is final. */
  static boolean isEnded(String state) {
    return ENDED.contains(state.split("[ +]", 2)[0]);
  }
}
