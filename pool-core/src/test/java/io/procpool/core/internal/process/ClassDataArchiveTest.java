package io.procpool.core.internal.process;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipal;
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

  /** As the first child of {@code jar} does: plans a dump, "writes" the archive, exits normally. */
  private void publishArchive() throws Exception {
    ClassDataArchive first = ClassDataArchive.plan("a.Main", jar.toString(), List.of());
    String dump = option(first.jvmOptions(), "-XX:ArchiveClassesAtExit=");
    assertTrue(dump != null, first.jvmOptions().toString());
    Files.write(Path.of(dump.substring(dump.indexOf('=') + 1)), new byte[] {42});
    first.onExit(0);
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
  void everyWorkerOfAPoolSharesOneArchiveAndOnlyTheWriterIsToldSo() throws Exception {
    List<String> worker0 = List.of("-Dprocpool.worker=0", "-Xmx64m");
    ClassDataArchive first = ClassDataArchive.plan("a.Main", jar.toString(), worker0);
    String dump = option(first.jvmOptions(), "-XX:ArchiveClassesAtExit=");
    assertTrue(dump != null, first.jvmOptions().toString());
    assertTrue(first.jvmOptions().contains("-Dprocpool.cds.dumping=true"), first.jvmOptions().toString());
    // Worker 1 waits for worker 0's archive instead of writing its own.
    assertEquals(List.of(), ClassDataArchive.plan("a.Main", jar.toString(),
        List.of("-Dprocpool.worker=1", "-Xmx64m")).jvmOptions());
    Files.write(Path.of(dump.substring(dump.indexOf('=') + 1)), new byte[] {42});
    first.onExit(0);

    // Any worker number (a replacement's too) maps it; no mapping child is told it writes one.
    for (String id : List.of("0", "1", "17")) {
      List<String> options = ClassDataArchive.plan("a.Main", jar.toString(),
          List.of("-Dprocpool.worker=" + id, "-Xmx64m")).jvmOptions();
      assertTrue(option(options, "-XX:SharedArchiveFile=") != null, id + ": " + options);
      assertNull(option(options, "-Dprocpool.cds.dumping"), id + ": " + options);
    }
    // Other options still count: a different heap size is another archive.
    List<String> other = ClassDataArchive.plan("a.Main", jar.toString(),
        List.of("-Dprocpool.worker=0", "-Xmx128m")).jvmOptions();
    assertTrue(option(other, "-XX:ArchiveClassesAtExit=") != null, other.toString());
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
    publishArchive();
    Files.write(jar, new byte[] {1, 2, 3, 4});
    ClassDataArchive after = ClassDataArchive.plan("a.Main", jar.toString(), List.of());
    assertTrue(option(after.jvmOptions(), "-XX:ArchiveClassesAtExit=") != null, after.jvmOptions().toString());
  }

  @Test
  void aJarReplacedByOneOfTheSameSizeAndModificationTimeGetsANewArchive() throws Exception {
    java.nio.file.attribute.FileTime mtime = Files.getLastModifiedTime(jar);
    publishArchive();
    // As `cp -p` or `rsync -t` of a rebuilt jar: other content, same size, same modification time.
    Path replacement = Files.write(tmp.resolve("app.jar.new"), new byte[] {7, 8, 9});
    Files.setLastModifiedTime(replacement, mtime);
    Files.move(replacement, jar, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    assertEquals(mtime, Files.getLastModifiedTime(jar));
    ClassDataArchive after = ClassDataArchive.plan("a.Main", jar.toString(), List.of());
    assertTrue(option(after.jvmOptions(), "-XX:ArchiveClassesAtExit=") != null,
        "the old archive must not be mapped: " + after.jvmOptions());
  }

  @Test
  void aChildThatCrashesWhileMappingTheArchiveRemovesItAndTheNextChildWritesANewOne() throws Exception {
    publishArchive();
    ClassDataArchive mapping = ClassDataArchive.plan("a.Main", jar.toString(), List.of());
    String use = option(mapping.jvmOptions(), "-XX:SharedArchiveFile=");
    Path archive = Path.of(use.substring(use.indexOf('=') + 1));

    mapping.onExit(137); // killed by the pool (SIGKILL): the archive is fine
    assertTrue(Files.isRegularFile(archive));
    mapping.onExit(ClassDataArchive.CRASHED); // a damaged archive crashes the JVM (SIGBUS, then abort)
    assertTrue(Files.notExists(archive));
    ClassDataArchive next = ClassDataArchive.plan("a.Main", jar.toString(), List.of());
    assertTrue(option(next.jvmOptions(), "-XX:ArchiveClassesAtExit=") != null, next.jvmOptions().toString());
  }

  @Test
  void publishingRemovesWhatKilledWritersLeftLongAgoButNotFreshFiles() throws Exception {
    Files.createDirectories(cache);
    Path oldTmp = Files.write(cache.resolve("WorkerMain-x.123.456.tmp"), new byte[] {1});
    Path oldLock = Files.write(cache.resolve("WorkerMain-x.lock"), new byte[0]);
    Path freshTmp = Files.write(cache.resolve("WorkerMain-y.123.789.tmp"), new byte[] {1});
    java.nio.file.attribute.FileTime longAgo = java.nio.file.attribute.FileTime.fromMillis(
        System.currentTimeMillis() - java.time.Duration.ofHours(1).toMillis());
    Files.setLastModifiedTime(oldTmp, longAgo);
    Files.setLastModifiedTime(oldLock, longAgo);
    publishArchive();
    assertTrue(Files.notExists(oldTmp));
    assertTrue(Files.notExists(oldLock));
    assertTrue(Files.exists(freshTmp));
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

  // ------------------------------------------------------------------ permissions (POSIX only)

  private static boolean posix(Path p) throws Exception {
    return Files.getFileStore(p).supportsFileAttributeView(PosixFileAttributeView.class);
  }

  /** Plans, "dumps" and publishes an archive for {@code a.Main}; returns the published archive. */
  private Path publishOne() throws Exception {
    ClassDataArchive first = ClassDataArchive.plan("a.Main", jar.toString(), List.of());
    String dump = option(first.jvmOptions(), "-XX:ArchiveClassesAtExit=");
    assertTrue(dump != null, first.jvmOptions().toString());
    Path written = Path.of(dump.substring(dump.indexOf('=') + 1));
    Files.write(written, new byte[] {42});
    Files.setPosixFilePermissions(written, PosixFilePermissions.fromString("rw-rw-rw-")); // a lax umask
    first.onExit(0);
    try (var files = Files.list(cache)) {
      return files.filter(f -> f.toString().endsWith(".jsa")).findFirst().orElseThrow();
    }
  }

  private static String perms(Path p) throws Exception {
    return PosixFilePermissions.toString(Files.getPosixFilePermissions(p, LinkOption.NOFOLLOW_LINKS));
  }

  @Test
  void theDirectoryIsPrivateAndArchivesArePublishedPrivate() throws Exception {
    assumeTrue(posix(tmp), "POSIX permissions");
    Path archive = publishOne();
    assertEquals("rwx------", perms(cache));
    assertEquals("rw-------", perms(archive));
    List<String> later = ClassDataArchive.plan("a.Main", jar.toString(), List.of()).jvmOptions();
    String use = option(later, "-XX:SharedArchiveFile=");
    assertEquals("-XX:SharedArchiveFile=" + archive, use);
  }

  @Test
  void anArchiveOthersMayWriteIsNotMapped() throws Exception {
    assumeTrue(posix(tmp), "POSIX permissions");
    Path archive = publishOne();
    for (String lax : List.of("rw-rw-r--", "rw-r--rw-")) {
      Files.setPosixFilePermissions(archive, PosixFilePermissions.fromString(lax));
      ClassDataArchive plan = ClassDataArchive.plan("a.Main", jar.toString(), List.of());
      assertNull(option(plan.jvmOptions(), "-XX:SharedArchiveFile="), lax + ": " + plan.jvmOptions());
      plan.onExit(1); // a child that failed: releases the dump lock, publishes nothing
    }
  }

  @Test
  void aLinkedArchiveIsNotMapped() throws Exception {
    assumeTrue(posix(tmp), "POSIX permissions");
    Path archive = publishOne();
    Path elsewhere = Files.move(archive, tmp.resolve("elsewhere.jsa"));
    Files.createSymbolicLink(archive, elsewhere);
    List<String> options = ClassDataArchive.plan("a.Main", jar.toString(), List.of()).jvmOptions();
    assertNull(option(options, "-XX:SharedArchiveFile="), options.toString());
  }

  @Test
  void anArchiveOfAnotherUserIsNotMapped() throws Exception {
    assumeTrue(posix(tmp), "POSIX permissions");
    Path archive = publishOne();
    UserPrincipal other;
    try {
      other = tmp.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByName("nobody");
      Files.setOwner(archive, other);
    } catch (Exception e) {
      assumeTrue(false, "cannot give a file to another user here (not root): " + e);
      return;
    }
    List<String> options = ClassDataArchive.plan("a.Main", jar.toString(), List.of()).jvmOptions();
    assertNull(option(options, "-XX:SharedArchiveFile="), options.toString());
  }

  @Test
  void aDirectoryOthersMayWriteTurnsItOff() throws Exception {
    assumeTrue(posix(tmp), "POSIX permissions");
    publishOne();
    Files.setPosixFilePermissions(cache, PosixFilePermissions.fromString("rwxrwxrwx"));
    assertEquals(List.of(), ClassDataArchive.plan("a.Main", jar.toString(), List.of()).jvmOptions());
    assertEquals(List.of(), ClassDataArchive.plan("b.Main", jar.toString(), List.of()).jvmOptions());
  }

  @Test
  void directoriesOnTheClasspathOrUserCdsOptionsTurnItOff() throws Exception {
    Path dir = Files.createDirectories(tmp.resolve("classes"));
    assertEquals(List.of(), ClassDataArchive.plan("a.Main", jar + java.io.File.pathSeparator + dir, List.of()).jvmOptions());
    assertEquals(List.of(), ClassDataArchive.plan("a.Main", jar.toString(), List.of("-Xshare:off")).jvmOptions());
  }
}
