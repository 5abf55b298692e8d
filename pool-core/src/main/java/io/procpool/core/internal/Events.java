package io.procpool.core.internal;

import jdk.jfr.Category;
import jdk.jfr.DataAmount;
import jdk.jfr.Description;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;
import jdk.jfr.Timespan;

/**
 * The pool's JDK Flight Recorder events: one per task (a single task or a chunk of map items) when
 * its outcome arrives, and one per worker start, loss and exit. They cost nothing unless a recording
 * enables them ({@code jcmd <pid> JFR.start}, {@code -XX:StartFlightRecording}, or a
 * {@link jdk.jfr.Recording} with {@code enable("io.procpool.*")}): an event object is only filled in
 * and committed when {@code shouldCommit()} says a recording wants it.
 */
final class Events {
  private Events() {}

  static final String CATEGORY = "procpool";

  /** A task's outcome. */
  @Name("io.procpool.Task")
  @Label("Task")
  @Category(CATEGORY)
  @Description("A task or a chunk of map items finished in a worker process")
  @StackTrace(false)
  static final class TaskEvent extends Event {
    @Label("Task Id")
    long taskId;

    @Label("Worker Pid")
    long workerPid;

    @Label("Items")
    @Description("Map items in the chunk, 1 for a single task")
    int items;

    @Label("Queue Wait")
    @Description("Time from submission to the result not spent running: queued in the pool or the worker, in transit")
    @Timespan(Timespan.NANOSECONDS)
    long queueWait;

    @Label("Run Time")
    @Description("Time the worker spent running it")
    @Timespan(Timespan.NANOSECONDS)
    long runTime;

    @Label("Bytes Out")
    @DataAmount
    long bytesOut;

    @Label("Bytes In")
    @DataAmount
    long bytesIn;

    @Label("Outcome")
    @Description("completed, failed (the task threw), error (procpool could not decode the result), crashed, timeout,"
        + " failed by the pool; a cancelled task has no event")
    String outcome;
  }

  /** A worker became ready. */
  @Name("io.procpool.WorkerStarted")
  @Label("Worker Started")
  @Category(CATEGORY)
  @StackTrace(false)
  static final class WorkerStartedEvent extends Event {
    @Label("Worker Pid")
    long workerPid;

    @Label("Startup Time")
    @Description("From launch (or join) to ready")
    @Timespan(Timespan.NANOSECONDS)
    long startupTime;
  }

  /** A worker ended without the pool asking it to. */
  @Name("io.procpool.WorkerLost")
  @Label("Worker Lost")
  @Category(CATEGORY)
  @StackTrace(false)
  static final class WorkerLostEvent extends Event {
    @Label("Worker Pid")
    long workerPid;

    @Label("Exit Code")
    @Description("The process's exit code, -1 if unknown")
    int exitCode;

    @Label("Reason")
    @Description("crashed, timeout, cancel (a cancel with interruption) or protocol_error")
    String reason;

    @Label("Detail")
    @Description("What the pool saw: the error that ended the connection, if any")
    String detail;

    @Label("Tasks Completed")
    @Description("Tasks (map items) it ran that returned a value")
    long tasksCompleted;

    @Label("Tasks Failed")
    @Description("Tasks (map items) it ran that threw")
    long tasksFailed;
  }

  /** A worker left after the pool told it to (retired or stopped by close). */
  @Name("io.procpool.WorkerExited")
  @Label("Worker Exited")
  @Category(CATEGORY)
  @StackTrace(false)
  static final class WorkerExitedEvent extends Event {
    @Label("Worker Pid")
    long workerPid;

    @Label("Tasks Completed")
    @Description("Tasks (map items) it ran that returned a value")
    long tasksCompleted;

    @Label("Tasks Failed")
    @Description("Tasks (map items) it ran that threw")
    long tasksFailed;

    @Label("Busy")
    @Timespan(Timespan.NANOSECONDS)
    long busy;
  }

  static void task(Task t, long pid, long queueWait, long runTime, long bytesIn, String outcome) {
    TaskEvent e = new TaskEvent();
    if (e.shouldCommit()) {
      e.taskId = t.id;
      e.workerPid = pid;
      e.items = t.items;
      e.queueWait = queueWait;
      e.runTime = runTime;
      e.bytesOut = t.size();
      e.bytesIn = bytesIn;
      e.outcome = outcome;
      e.commit();
    }
  }

  static void workerStarted(WorkerHandle w) {
    WorkerStartedEvent e = new WorkerStartedEvent();
    if (e.shouldCommit()) {
      e.workerPid = w.pid;
      e.startupTime = java.time.Duration.between(w.startedAt, java.time.Instant.now()).toNanos();
      e.commit();
    }
  }

  /** Reads the fields it needs now; commits once the exit code is known (at most a second later). */
  static void workerLost(WorkerHandle w, KillReason why, Throwable cause) {
    if (!new WorkerLostEvent().isEnabled()) {
      return;
    }
    long pid = w.pid;
    long completed = w.tasksCompleted;
    long failed = w.tasksFailed;
    String reason = why != null ? why.kind.name().toLowerCase(java.util.Locale.ROOT) : "crashed";
    String detail = cause == null ? null : String.valueOf(cause.getMessage());
    w.exitCodeSoon().thenAccept(code -> {
      WorkerLostEvent e = new WorkerLostEvent();
      e.workerPid = pid;
      e.exitCode = code == null ? -1 : code;
      e.reason = reason;
      e.detail = detail;
      e.tasksCompleted = completed;
      e.tasksFailed = failed;
      e.commit();
    });
  }

  static void workerExited(WorkerHandle w) {
    WorkerExitedEvent e = new WorkerExitedEvent();
    if (e.shouldCommit()) {
      e.workerPid = w.pid;
      e.tasksCompleted = w.tasksCompleted;
      e.tasksFailed = w.tasksFailed;
      e.busy = w.busyNanos;
      e.commit();
    }
  }
}
