package io.procpool.ipc.pipes;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.procpool.api.ProcessPool;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A worker that writes the class-data archive (started with {@code -Dprocpool.cds.dumping=true})
 * rehearses a task before it exits, so that the archive every later worker maps holds the first-task
 * path even when that worker ran no task; any other worker does not.
 */
class ArchiveRehearsalTest {
  @TempDir Path tmp;

  /** The classes a worker that ran no task loaded, once its log says it exited (the JVM closes it then). */
  private String classesLoadedByAnIdleWorker(Path log, String... extraOptions) throws Exception {
    String[] options = new String[extraOptions.length + 1];
    options[0] = "-Xlog:class+load:file=" + log;
    System.arraycopy(extraOptions, 0, options, 1, extraOptions.length);
    long pid;
    try (ProcessPool pool = ProcessPool.builder().processes(1).jvmOptions(options).build()) {
      pid = pool.workerPids().get(0);
    }
    ProcessHandle worker = ProcessHandle.of(pid).orElse(null);
    if (worker != null) {
      worker.onExit().get(30, java.util.concurrent.TimeUnit.SECONDS);
    }
    return Files.readString(log, StandardCharsets.UTF_8);
  }

  @Test
  void theWorkerThatWritesTheArchiveRehearsesATaskBeforeItExits() throws Exception {
    String dumping = classesLoadedByAnIdleWorker(tmp.resolve("dumping.log"), "-Dprocpool.cds.dumping=true");
    assertTrue(dumping.contains("java.lang.invoke.SerializedLambda "), "no task was decoded:\n" + tail(dumping));
    assertTrue(dumping.contains("io.procpool.core.internal.WorkerRuntime$$Lambda"), tail(dumping));

    String plain = classesLoadedByAnIdleWorker(tmp.resolve("plain.log"));
    assertFalse(plain.contains("java.lang.invoke.SerializedLambda "), "an ordinary idle worker decoded a task");
    assertTrue(plain.contains("io.procpool.core.WorkerMain "), "the log is incomplete:\n" + tail(plain));
  }

  private static String tail(String s) {
    return s.length() <= 2000 ? s : s.substring(s.length() - 2000);
  }
}
