package io.procpool.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** A worker JVM started with a bad command line says what is wrong, with the usage, and exits with 2. */
class WorkerMainCommandLineTest {
  private static String[] run(String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Xshare:auto", "-XX:TieredStopAtLevel=1", "-cp", System.getProperty("java.class.path"),
        WorkerMain.class.getName()));
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).redirectInput(ProcessBuilder.Redirect.PIPE).start();
    try {
      p.getOutputStream().close();
      String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
      assertTrue(p.waitFor(60, TimeUnit.SECONDS), "worker did not exit");
      return new String[] {Integer.toString(p.exitValue()), err};
    } finally {
      p.destroyForcibly();
      p.waitFor(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void missingOptionExitsWithUsage() throws Exception {
    String[] r = run("--transport", "pipes");
    assertEquals("2", r[0], r[1]);
    assertTrue(r[1].startsWith("procpool worker: missing option --connect; usage: --transport NAME"), r[1]);
  }

  @Test
  void malformedNumberExitsWithUsage() throws Exception {
    String[] r = run("--transport", "pipes", "--connect", "/nowhere", "--worker-id", "three");
    assertEquals("2", r[0], r[1]);
    assertTrue(r[1].startsWith("procpool worker: option --worker-id needs a whole number, got 'three'; usage:"),
        r[1]);
  }
}
