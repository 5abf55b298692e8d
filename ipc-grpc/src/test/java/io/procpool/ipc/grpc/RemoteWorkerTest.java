package io.procpool.ipc.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.procpool.api.AsyncResult;
import io.procpool.api.ProcessPool;
import io.procpool.api.WorkerCrashedException;
import io.procpool.testkit.NoLeakedProcessesExtension;
import java.io.IOException;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A worker the pool did not start (as on another host) joins over gRPC with the key from its
 * environment, takes tasks, and its death fails its task without a respawn.
 */
@ExtendWith(NoLeakedProcessesExtension.class)
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class RemoteWorkerTest {
  @org.junit.jupiter.api.io.TempDir Path tmp;

  private static Process startRemoteWorker(String address, byte[] key, String keyEnv) throws IOException {
    ProcessBuilder pb = new ProcessBuilder(
        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-cp", System.getProperty("java.class.path"),
        "io.procpool.core.WorkerMain", "--transport", "grpc", "--connect", address);
    pb.environment().put("PROCPOOL_AUTH_KEY", keyEnv != null ? keyEnv : Base64.getEncoder().encodeToString(key));
    pb.redirectErrorStream(true);
    pb.redirectOutput(ProcessBuilder.Redirect.INHERIT);
    return pb.start();
  }

  private static void await(String what, BooleanSupplier condition) throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out waiting for " + what);
      }
      Thread.sleep(20);
    }
  }

  @Test
  void handStartedWorkerJoinsTakesTasksAndIsNotReplacedWhenItDies() throws Exception {
    byte[] key = new byte[32];
    new SecureRandom().nextBytes(key);
    try (ProcessPool pool = ProcessPool.builder().transport("grpc").processes(1)
        .listenAddress("127.0.0.1:0").authKey(key).build()) {
      Process remote = startRemoteWorker(pool.address(), key, null);
      try {
        await("the remote worker to join", () -> pool.workerPids().contains(remote.pid()));
        assertEquals(2, pool.workerPids().size());

        // Both workers take tasks: two concurrent slow tasks must land on two different pids.
        Set<Long> pids = new HashSet<>();
        List<AsyncResult<Long>> results = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
          results.add(pool.applyAsync(() -> {
            Thread.sleep(500);
            return ProcessHandle.current().pid();
          }));
        }
        for (AsyncResult<Long> r : results) {
          pids.add(r.get(60, TimeUnit.SECONDS));
        }
        assertTrue(pids.contains(remote.pid()), "no task ran on the remote worker: " + pids);

        // Kill the remote worker while it runs a long task.
        List<AsyncResult<Long>> longTasks = new ArrayList<>();
        String startedDir = tmp.toString();
        for (int i = 0; i < 2; i++) {
          longTasks.add(pool.applyAsync(() -> {
            long pid = ProcessHandle.current().pid();
            java.nio.file.Files.createFile(Path.of(startedDir, "started-" + pid));
            Thread.sleep(3000);
            return pid;
          }));
        }
        Path remoteStarted = tmp.resolve("started-" + remote.pid());
        await("the remote worker to start its task", () -> java.nio.file.Files.exists(remoteStarted));
        List<Long> completedAt = java.util.Collections.synchronizedList(new ArrayList<>());
        for (AsyncResult<Long> r : longTasks) {
          r.toCompletableFuture().whenComplete((v, e) -> {
            if (e != null) {
              completedAt.add(System.nanoTime());
            }
          });
        }
        long killedAt = System.nanoTime();
        remote.destroyForcibly();
        int crashed = 0;
        for (AsyncResult<Long> r : longTasks) {
          try {
            r.get(60, TimeUnit.SECONDS);
          } catch (ExecutionException e) {
            assertInstanceOf(WorkerCrashedException.class, e.getCause());
            assertEquals(remote.pid(), ((WorkerCrashedException) e.getCause()).workerPid());
            crashed++;
          }
        }
        await("the failure callback", () -> !completedAt.isEmpty());
        System.out.println("[grpc] the remote worker's task failed "
            + (completedAt.get(0) - killedAt) / 1_000_000 + " ms after the kill");
        assertEquals(1, crashed, "exactly the remote worker's task fails");
        await("the pool to drop the remote worker", () -> pool.workerPids().size() == 1);
        assertEquals(42, pool.apply(() -> 42));
        assertEquals(1, pool.workerPids().size(), "the pool must not respawn a worker it did not start");
      } finally {
        remote.destroyForcibly();
        remote.waitFor(30, TimeUnit.SECONDS);
      }
    }
  }

  @Test
  void handStartedWorkerWithTheWrongKeyIsRefusedWithAClearMessage() throws Exception {
    byte[] key = new byte[32];
    new SecureRandom().nextBytes(key);
    try (ProcessPool pool = ProcessPool.builder().transport("grpc").processes(1)
        .listenAddress("127.0.0.1:0").authKey(key).build()) {
      byte[] wrong = key.clone();
      wrong[0] ^= 1;
      ProcessBuilder pb = new ProcessBuilder(
          Path.of(System.getProperty("java.home"), "bin", "java").toString(),
          "-cp", System.getProperty("java.class.path"),
          "io.procpool.core.WorkerMain", "--transport", "grpc", "--connect", pool.address());
      pb.environment().put("PROCPOOL_AUTH_KEY", Base64.getEncoder().encodeToString(wrong));
      pb.redirectErrorStream(true);
      Process p = pb.start();
      String output = new String(p.getInputStream().readAllBytes());
      assertTrue(p.waitFor(60, TimeUnit.SECONDS));
      assertEquals(1, p.exitValue());
      assertTrue(output.contains("auth key did not match"), output);
      assertEquals(1, pool.workerPids().size());
    }
  }

  @Test
  void missingKeyIsAUsageError() throws Exception {
    ProcessBuilder pb = new ProcessBuilder(
        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-cp", System.getProperty("java.class.path"),
        "io.procpool.core.WorkerMain", "--transport", "grpc", "--connect", "127.0.0.1:1");
    pb.environment().remove("PROCPOOL_AUTH_KEY");
    pb.redirectErrorStream(true);
    Process p = pb.start();
    String output = new String(p.getInputStream().readAllBytes());
    assertTrue(p.waitFor(60, TimeUnit.SECONDS));
    assertTrue(output.contains("PROCPOOL_AUTH_KEY"), output);
    assertTrue(p.exitValue() != 0);
  }
}
