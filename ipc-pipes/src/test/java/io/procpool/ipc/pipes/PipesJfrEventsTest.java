package io.procpool.ipc.pipes;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.procpool.api.ProcessPool;
import io.procpool.api.TaskFailedException;
import io.procpool.api.WorkerCrashedException;
import io.procpool.testkit.ContractTasks;
import io.procpool.testkit.NoLeakedProcessesExtension;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import jdk.jfr.Recording;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordingFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** The pool's JFR events, recorded with {@link Recording} and read back. */
@ExtendWith(NoLeakedProcessesExtension.class)
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class PipesJfrEventsTest {
  @TempDir Path tmp;

  @Test
  void taskAndWorkerEventsAreRecorded() throws Exception {
    List<RecordedEvent> events;
    List<Long> pids;
    try (Recording recording = new Recording()) {
      recording.enable("io.procpool.Task");
      recording.enable("io.procpool.WorkerStarted");
      recording.enable("io.procpool.WorkerLost");
      recording.enable("io.procpool.WorkerExited");
      recording.start();
      try (ProcessPool pool = ProcessPool.builder().processes(2).build()) {
        assertEquals(IntStream.range(0, 20).boxed().collect(Collectors.toList()),
            pool.map((Integer x) -> x, IntStream.range(0, 20).boxed().collect(Collectors.toList()), 5));
        assertThrows(TaskFailedException.class, () -> pool.apply(() -> ContractTasks.<Integer>fail("expected")));
        ExecutionException crash = assertThrows(ExecutionException.class,
            () -> pool.applyAsync(() -> {
              Thread.sleep(300);
              return ContractTasks.<Integer>exit(7);
            }).get(60, TimeUnit.SECONDS));
        assertTrue(crash.getCause() instanceof WorkerCrashedException, String.valueOf(crash.getCause()));
        pids = pool.workerPids();
      }
      recording.stop();
      Path file = tmp.resolve("procpool.jfr");
      recording.dump(file);
      events = RecordingFile.readAllEvents(file);
    }
    Map<String, List<RecordedEvent>> byType = events.stream()
        .collect(Collectors.groupingBy(e -> e.getEventType().getName()));
    List<RecordedEvent> tasks = byType.getOrDefault("io.procpool.Task", List.of());
    Map<String, Long> outcomes = tasks.stream().collect(Collectors.groupingBy(e -> e.getString("outcome"), Collectors.counting()));
    assertEquals(Map.of("completed", 4L, "failed", 1L, "crashed", 1L), outcomes, "task events: " + tasks);
    for (RecordedEvent e : tasks) {
      if (e.getString("outcome").equals("completed")) {
        assertEquals(5, e.getInt("items"));
        assertTrue(e.getLong("bytesOut") > 0 && e.getLong("bytesIn") > 0, e.toString());
        assertTrue(e.getLong("workerPid") > 0, e.toString());
        assertFalse(e.getDuration("runTime").isNegative(), e.toString());
        assertTrue(e.getDuration("queueWait").compareTo(Duration.ofMinutes(1)) < 0, e.toString());
      }
    }
    RecordedEvent crashed = tasks.stream().filter(e -> e.getString("outcome").equals("crashed")).findFirst().orElseThrow();
    assertTrue(crashed.getDuration("runTime").toMillis() >= 250, "it ran ~300 ms before its worker died: " + crashed);
    List<RecordedEvent> lost = byType.getOrDefault("io.procpool.WorkerLost", List.of());
    assertEquals(1, lost.size(), "WorkerLost events: " + lost);
    assertEquals(7, lost.get(0).getInt("exitCode"), lost.toString());
    assertTrue(lost.get(0).getLong("tasksCompleted") <= 20 && lost.get(0).getLong("tasksFailed") <= 1, lost.toString());
    assertTrue(byType.getOrDefault("io.procpool.WorkerStarted", List.of()).size() >= 3,
        "2 workers and a replacement started: " + byType.get("io.procpool.WorkerStarted"));
    List<Long> exited = byType.getOrDefault("io.procpool.WorkerExited", List.of()).stream()
        .map(e -> e.getLong("workerPid")).sorted().collect(Collectors.toList());
    // The replacement of the crashed worker may still have been starting when close() began.
    assertTrue(exited.containsAll(pids) && exited.size() <= 2, "close() stops the live workers " + pids + ": " + exited);
  }
}
