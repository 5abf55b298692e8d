package io.procpool.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ClassDataArchiveTest {
  @TempDir Path tmp;
  private Path cache;
  private Path jar;

  @BeforeEach
  void setUp() throws Exception {
    cache = tmp.resolve("cache");
    System.setProperty("procpool.cds.dir", cache.toString());
    jar = Files.write(tmp.resolve("app.jar"), new byte[] {1, 2, 3});
  }

  @AfterEach
  void tearDown() {
    System.clearProperty("procpool.cds.dir");
  }

  private static String option(List<String> options, String prefix) {
    return options.stream().filter(o -> o.startsWith(prefix)).findFirst().orElse(null);
  }

  @Test
  void firstChildDumpsThenLaterChildrenMapTheArchive() throws Exception {
    ClassDataArchive first = ClassDataArchive.plan("a.Main", jar.toString(), List.of());
    String dump = option(first.jvmOptions(), "-XX:ArchiveClassesAtExit=");
    assertTrue(dump != null, first.jvmOptions().toString());

    // While the first child runs, a second one neither dumps nor maps anything.
    assertEquals(List.of(), ClassDataArchive.plan("a.Main", jar.toString(), List.of()).jvmOptions());

    Path written = Path.of(dump.substring(dump.indexOf('=') + 1));
    Files.write(written, new byte[] {42});
    first.onExit(0);
    assertTrue(Files.notExists(written));

    ClassDataArchive later = ClassDataArchive.plan("a.Main", jar.toString(), List.of());
    String use = option(later.jvmOptions(), "-XX:SharedArchiveFile=");
    assertTrue(use != null, later.jvmOptions().toString());
    assertTrue(Files.isRegularFile(Path.of(use.substring(use.indexOf('=') + 1))));
  }

  @Test
  void failedChildPublishesNothingAndReleasesTheLock() throws Exception {
    ClassDataArchive first = ClassDataArchive.plan("a.Main", jar.toString(), List.of());
    first.onExit(137);
    ClassDataArchive second = ClassDataArchive.plan("a.Main", jar.toString(), List.of());
    assertTrue(option(second.jvmOptions(), "-XX:ArchiveClassesAtExit=") != null, second.jvmOptions().toString());
  }

  @Test
  void changedJarGetsANewArchive() throws Exception {
    ClassDataArchive first = ClassDataArchive.plan("a.Main", jar.toString(), List.of());
    String dump = option(first.jvmOptions(), "-XX:ArchiveClassesAtExit=");
    Files.write(Path.of(dump.substring(dump.indexOf('=') + 1)), new byte[] {42});
    first.onExit(0);
    Files.write(jar, new byte[] {1, 2, 3, 4});
    ClassDataArchive after = ClassDataArchive.plan("a.Main", jar.toString(), List.of());
    assertTrue(option(after.jvmOptions(), "-XX:ArchiveClassesAtExit=") != null, after.jvmOptions().toString());
  }

  @Test
  void onlyTheMostRecentlyUsedArchivesAreKept() throws Exception {
    for (int i = 0; i < 20; i++) {
      ClassDataArchive plan = ClassDataArchive.plan("a.Main" + i, jar.toString(), List.of());
      String dump = option(plan.jvmOptions(), "-XX:ArchiveClassesAtExit=");
      Files.write(Path.of(dump.substring(dump.indexOf('=') + 1)), new byte[] {42});
      plan.onExit(0);
    }
    try (var files = Files.list(cache)) {
      assertEquals(16, files.filter(f -> f.toString().endsWith(".jsa")).count());
    }
  }

  @Test
  void directoriesOnTheClasspathOrUserCdsOptionsTurnItOff() throws Exception {
    Path dir = Files.createDirectories(tmp.resolve("classes"));
    assertEquals(List.of(), ClassDataArchive.plan("a.Main", jar + java.io.File.pathSeparator + dir, List.of()).jvmOptions());
    assertEquals(List.of(), ClassDataArchive.plan("a.Main", jar.toString(), List.of("-Xshare:off")).jvmOptions());
  }
}
