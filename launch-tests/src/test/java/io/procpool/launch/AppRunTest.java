package io.procpool.launch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The harness itself: {@link AppRun} finds, kills and reports what an application leaves behind. */
class AppRunTest {
  @TempDir
  Path work;

  @Test
  void reportsAndKillsAProcessTheApplicationLeftBehind() {
    assumeTrue(Files.isReadable(Path.of("/proc/self/environ")), "needs Linux /proc");
    // The shell starts a long sleep in the background, prints its pid, and exits at once.
    AppRun run = AppRun.run("leaker", work, List.of("/bin/sh", "-c", "sleep 300 & echo $!"),
        AppRun.TIMEOUT, Duration.ofSeconds(1));
    assertEquals(0, run.exitCode(), run::report);
    long orphan = Long.parseLong(run.stdout().strip());
    assertEquals(1, run.leaked().size(), run::report);
    assertTrue(run.leaked().get(0).startsWith("pid " + orphan + ":"), run::report);
    assertTrue(run.report().contains("left behind (killed): pid " + orphan), run::report);
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (AppRun.isRunning(orphan) && System.nanoTime() < deadline) {
      LockSupport.parkNanos(Duration.ofMillis(20).toNanos());
    }
    assertFalse(AppRun.isRunning(orphan), "the left-behind process was killed");
  }

  @Test
  void capturesOutputAndExitCodeAndFindsNothingLeftWhenAllIsGone() {
    AppRun run = AppRun.run("plain", work, List.of("/bin/sh", "-c", "echo out; echo err >&2; exit 3"));
    assertEquals(3, run.exitCode());
    assertEquals("out\n", run.stdout());
    assertEquals("err\n", run.stderr());
    assertEquals(List.of(), run.leaked());
    assertEquals(List.of("err"), run.linesStartingWith("er"));
  }

  @Test
  void killsAHungApplicationAfterAskingItForAThreadDump() throws Exception {
    Path hang = Files.writeString(work.resolve("Hang.java"),
        "public class Hang { public static void main(String[] a) throws Exception {"
            + " System.out.println(\"started\"); Thread.sleep(600_000); } }");
    Javac.compile(List.of(hang), work.resolve("classes"), List.of());
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    AppRun run = AppRun.run("hang", work, List.of(java, "-cp", work.resolve("classes").toString(), "Hang"),
        Duration.ofSeconds(4), Duration.ofSeconds(5));
    assertEquals(-1, run.exitCode(), run::report);
    assertTrue(run.stdout().startsWith("started"), run::report);
    assertTrue(run.stdout().contains("Full thread dump"), run::report);
    assertTrue(run.stdout().contains("Hang.main"), run::report);
    assertEquals(List.of(), run.leaked(), run::report);
    assertTrue(run.report().contains("did not exit in time, killed"), run::report);
  }
}
