package io.procpool.reliability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.procpool.testkit.NoLeakedProcessesExtension;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** SIGKILL of a parent that owns a pool and a manager: no worker or manager is alive 2 s later. */
@ExtendWith(NoLeakedProcessesExtension.class)
class ParentKillChaosTest {

  static List<String> transports() {
    return Rel.processTransports();
  }

  @ParameterizedTest(name = "parent-kill[{0}]")
  @MethodSource("transports")
  @Timeout(value = 120, unit = TimeUnit.SECONDS)
  void workersAndManagerExitWhenTheParentIsKilled(String transport) throws Exception {
    Process parent = new ProcessBuilder(
            Path.of(System.getProperty("java.home"), "bin", "java").toString(),
            "-cp", System.getProperty("java.class.path"),
            PoolAndManagerParentMain.class.getName(), transport)
        .redirectError(ProcessBuilder.Redirect.INHERIT)
        .start();
    List<ProcessHandle> children = new ArrayList<>();
    try {
      BufferedReader out = new BufferedReader(new InputStreamReader(parent.getInputStream(), StandardCharsets.UTF_8));
      CompletableFuture<String> pidsLine = CompletableFuture.supplyAsync(() -> {
        try {
          for (String line; (line = out.readLine()) != null; ) {
            if (line.startsWith("PIDS ")) {
              return line;
            }
          }
          return null;
        } catch (java.io.IOException e) {
          return null;
        }
      });
      String line = pidsLine.get(90, TimeUnit.SECONDS);
      assertTrue(line != null, "the parent exited before printing its pids");
      for (String pid : line.substring(5).trim().split("\\s+")) {
        children.add(ProcessHandle.of(Long.parseLong(pid)).orElseThrow(() -> new AssertionError(pid + " not running")));
      }
      assertEquals(3, children.size(), line);
      long start = System.nanoTime();
      parent.destroyForcibly();
      assertTrue(parent.waitFor(30, TimeUnit.SECONDS));
      Rel.await(java.time.Duration.ofSeconds(10), () -> children.stream().noneMatch(p -> Rel.running(p.pid())));
      long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
      List<Long> survivors = children.stream().map(ProcessHandle::pid).filter(Rel::running).collect(Collectors.toList());
      Rel.summary(String.format("parent-kill[%s]: manager %d + workers %s all gone %d ms after SIGKILL of the parent%s",
          transport, children.get(0).pid(), children.subList(1, 3).stream().map(ProcessHandle::pid).collect(Collectors.toList()),
          millis, survivors.isEmpty() ? "" : "; STILL RUNNING after 10 s: " + survivors));
      assertEquals(List.of(), survivors, "still running 10 s after the parent was killed");
      assertTrue(millis <= 2_000, "children took " + millis + " ms to exit after the parent was killed (limit 2 s)");
    } finally {
      parent.destroyForcibly();
      children.forEach(ProcessHandle::destroyForcibly);
      parent.waitFor(30, TimeUnit.SECONDS);
    }
  }
}
