package io.procpool.ipc.pipes;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.procpool.api.ProcessPool;
import io.procpool.api.TaskSerializationException;
import java.io.File;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.ExecutionException;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/** A task whose class the workers cannot load fails alone, saying why and what to set. */
class WorkerMissingClassTest {
  @Test
  void aTaskClassTheWorkersCannotLoadFailsWithTheReasonAndTheOption() throws Exception {
    String testClasses = Path.of(WorkerMissingClassTest.class.getProtectionDomain().getCodeSource().getLocation()
        .toURI()).toString();
    String withoutTests = Arrays.stream(System.getProperty("java.class.path").split(File.pathSeparator))
        .filter(e -> !Path.of(e).toAbsolutePath().toString().equals(testClasses))
        .collect(Collectors.joining(File.pathSeparator));
    try (ProcessPool pool = ProcessPool.builder().processes(1).workerClasspath(withoutTests).build()) {
      ExecutionException e = assertThrows(ExecutionException.class,
          () -> pool.applyAsync(() -> "from a class only the parent has").get());
      Throwable cause = e.getCause();
      assertTrue(cause instanceof TaskSerializationException, String.valueOf(cause));
      String message = cause.getMessage();
      assertTrue(message.contains("cannot decode the task function"), message);
      assertTrue(message.contains("cannot load a class that the parent could"), message);
      assertTrue(message.contains("workerClasspath"), message);
      // Only that task failed: the worker answers the next one the same way (it did not crash).
      ExecutionException again = assertThrows(ExecutionException.class, () -> pool.applyAsync(() -> 2).get());
      assertTrue(again.getCause() instanceof TaskSerializationException, String.valueOf(again.getCause()));
    }
  }
}
