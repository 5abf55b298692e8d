package io.procpool.cluster.slurm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.procpool.api.cluster.JobStatus;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** squeue's words, as Slurm 22.05 prints them (lines taken from a real squeue on this machine kind). */
class SlurmStatesTest {

  @Test
  void exitCodesComeFromTheRawWaitStatus() {
    assertEquals(0, SlurmStates.exitCode("0"));
    assertEquals(3, SlurmStates.exitCode("768"));       // exit 3
    assertEquals(255, SlurmStates.exitCode("65280"));   // exit 255
    assertEquals(137, SlurmStates.exitCode("9"));       // SIGKILL
    assertEquals(143, SlurmStates.exitCode("15"));      // SIGTERM (scancel)
    assertEquals(134, SlurmStates.exitCode("134"));     // SIGABRT with core dump (0x80 + 6)
    assertEquals(null, SlurmStates.exitCode("N/A"));
  }

  @Test
  void everyVerdictIsAnEndedJob() {
    for (String v : List.of("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "BOOT_FAIL",
        "DEADLINE", "PREEMPTED")) {
      assertEquals(JobStatus.ended(v, 1, "n1"), SlurmStates.status(v, "n1", "256", "None"), v);
    }
    // Cancelled while pending: no node, no exit code.
    assertEquals(JobStatus.ended("CANCELLED", null, null), SlurmStates.status("CANCELLED", "", "0", "PartitionConfig"));
  }

  @Test
  void placedStatesAreRunningAndWaitingStatesPending() {
    for (String st : List.of("RUNNING", "COMPLETING", "CONFIGURING", "SUSPENDED", "STOPPED", "SIGNALING", "SOMETHING_NEW")) {
      assertEquals(JobStatus.running("n2"), SlurmStates.status(st, "n2", "0", "None"), st);
    }
    assertEquals(JobStatus.pending(null, false), SlurmStates.status("PENDING", "", "0", "None"));
    assertEquals(JobStatus.pending("Priority", false), SlurmStates.status("PENDING", "", "0", "Priority"));
    assertEquals(JobStatus.pending("REQUEUE_HOLD", false), SlurmStates.status("REQUEUE_HOLD", "", "0", ""));
    assertEquals(JobStatus.pending("launch failed requeued held", true),
        SlurmStates.status("PENDING", "", "0", "launch failed requeued held"));
    assertEquals(JobStatus.pending("ReqNodeNotAvail, UnavailableNodes:n2", false),
        SlurmStates.status("PENDING", "", "0", "ReqNodeNotAvail, UnavailableNodes:n2"));
  }

  @Test
  void permanentReasonsAreThoseThatNeverClearByThemselves() {
    for (String r : List.of("PartitionConfig", "PartitionNodeLimit", "PartitionTimeLimit", "BadConstraints",
        "DependencyNeverSatisfied", "InvalidAccount", "InvalidQOS", "QOSMaxWallDurationPerJobLimit",
        "QOSMaxCpuPerJobLimit", "AssocMaxNodesPerJobLimit", "QOSMinCpuNotSatisfied")) {
      assertTrue(SlurmStates.permanent(r), r);
    }
    for (String r : List.of("Resources", "Priority", "None", "Dependency", "BeginTime", "NodeDown", "PartitionDown",
        "ReqNodeNotAvail", "JobHeldUser", "JobHeldAdmin", "QOSMaxJobsPerUserLimit", "QOSGrpCpuLimit",
        "AssocGrpJobsLimit", "AssociationJobLimit", "Reservation", "Licenses")) {
      assertFalse(SlurmStates.permanent(r), r);
    }
  }

  @Test
  void parsesSqueueOutputAndSkipsWhatIsNotALine() {
    Map<String, JobStatus> m = SlurmStates.parse("5_0|FAILED|vm|768|NonZeroExitCode\n"
        + "5_1|FAILED|vm|9|JobLaunchFailure\n"
        + "6_0|PENDING||0|PartitionConfig\n"
        + "squeue: warning: something\n"
        + "5_2|RUNNING|vm|0|None\n");
    assertEquals(Map.of("5_0", JobStatus.ended("FAILED", 3, "vm"), "5_1", JobStatus.ended("FAILED", 137, "vm"),
        "6_0", JobStatus.pending("PartitionConfig", true), "5_2", JobStatus.running("vm")), m);
  }
}
