package io.procpool.core.internal.process;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.LinkOption;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipal;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Application class-data sharing for child JVMs: the first child of a given classpath writes an
 * archive of the classes it loaded when it exits normally ({@code -XX:ArchiveClassesAtExit}); later
 * children map it ({@code -XX:SharedArchiveFile}) and start much faster (measured here: a gRPC
 * worker's start to first result went from ~0.9 s to ~0.45 s).
 *
 * <p>Used only when every classpath entry is a jar (the JVM cannot archive classes from
 * directories) and the user's JVM options do not manage CDS themselves. The archive's name is a hash
 * of the Java runtime, the main class, the classpath (with each jar's size, modification time, and status-change time and inode where the file system has them)
 * and the JVM options (except the worker number, {@code -Dprocpool.worker=N}: one archive serves
 * every worker), so a changed jar never meets a stale archive. The child that writes an archive runs
 * with {@code -Dprocpool.cds.dumping=true}: a worker then rehearses a task before it exits, so the
 * archive holds the first-task path even if that worker ran no task. Archives live in
 * {@code $XDG_CACHE_HOME/procpool/cds} (default {@code ~/.cache/procpool/cds}), or in the directory
 * named by the system property {@code procpool.cds.dir}; the 16 most recently used are kept.
 * {@code -Dprocpool.cds=false} turns the feature off.
 *
 * <p>A mapped archive is code every child JVM runs, so only archives nobody else could have written
 * are mapped. On a POSIX file system the directory is created {@code 0700} and archives are published
 * {@code 0600}; a directory, or an archive, that is not owned by the current user or that group or
 * others may write is not trusted: such a directory turns the feature off, such an archive is ignored
 * (and replaced by the next child's). Elsewhere (no POSIX permissions) the directory's defaults apply.
 */
final class ClassDataArchive {
  private static final Duration STALE_LOCK = Duration.ofMinutes(10);
  private static final int KEEP = 16;

  /**
   * The system property set ({@code true}) in a child that writes an archive, so that it can run its
   * usual first steps before exiting ({@link ChildMain#writingClassDataArchive()}).
   */
  static final String DUMPING_PROPERTY = "procpool.cds.dumping";

  /**
   * The option that numbers a pool's workers ({@code -Dprocpool.worker=N}): left out of the archive's
   * key, so that every worker (a replacement too) maps the same archive.
   */
  static final String WORKER_ID_OPTION = "-Dprocpool.worker=";

  private final List<String> options;
  private final Path dumpTo;
  private final Path archive;
  private final Path lock;

  private ClassDataArchive(List<String> options, Path dumpTo, Path archive, Path lock) {
    this.options = options;
    this.dumpTo = dumpTo;
    this.archive = archive;
    this.lock = lock;
  }

  static final ClassDataArchive NONE = new ClassDataArchive(List.of(), null, null, null);

  /** The JVM options to add for this child. */
  List<String> jvmOptions() {
    return options;
  }

  /**
   * The exit value of a JVM that crashed: its error handler ends with {@code abort()}, SIGABRT. A
   * damaged archive (truncated, say) makes the JVM crash while it maps it, before any user code runs.
   */
  static final int CRASHED = 128 + 6;

  /**
   * Called when the child has exited: publishes the archive it wrote, if it wrote one; deletes the
   * archive it mapped if it crashed, so that the next child runs without it and writes a new one (a
   * damaged archive must not keep every later worker from starting).
   */
  void onExit(int exitCode) {
    if (dumpTo == null) {
      if (archive != null && exitCode == CRASHED) {
        try {
          Files.deleteIfExists(archive);
        } catch (IOException ignored) {
          // read-only cache: the user sees the workers' crash reports
        }
      }
      return;
    }
    try {
      if (exitCode == 0 && Files.isRegularFile(dumpTo) && Files.size(dumpTo) > 0) {
        if (posix(dumpTo)) {
          Files.setPosixFilePermissions(dumpTo, PosixFilePermissions.fromString("rw-------"));
        }
        Files.move(dumpTo, archive, StandardCopyOption.ATOMIC_MOVE);
        prune(archive.getParent());
      }
    } catch (IOException ignored) {
      // Another child published it first, or the directory went away: no harm.
    } finally {
      try {
        Files.deleteIfExists(dumpTo);
        Files.deleteIfExists(lock);
      } catch (IOException ignored) {
        // best effort
      }
    }
  }

  /** Decides what a child started with these settings should do about class-data sharing. */
  static ClassDataArchive plan(String mainClass, String classpath, List<String> jvmOptions) {
    if ("false".equals(System.getProperty("procpool.cds")) || Runtime.version().feature() < 13) {
      return NONE;
    }
    for (String o : jvmOptions) {
      if (o.startsWith("-XX:SharedArchiveFile") || o.startsWith("-XX:ArchiveClassesAtExit")
          || o.startsWith("-Xshare") || o.startsWith("-XX:SharedClassListFile")) {
        return NONE; // the user manages CDS
      }
    }
    try {
      MessageDigest sha = MessageDigest.getInstance("SHA-256");
      update(sha, System.getProperty("java.home"));
      update(sha, System.getProperty("java.vm.version"));
      update(sha, mainClass);
      for (String o : jvmOptions) {
        if (!o.startsWith(WORKER_ID_OPTION)) {
          update(sha, o); // not the worker id: one archive serves every worker of a pool
        }
      }
      for (String entry : classpath.split(java.io.File.pathSeparator)) {
        Path jar = Path.of(entry);
        BasicFileAttributes attributes = entry.isEmpty() || !entry.endsWith(".jar") ? null : attributes(jar);
        if (attributes == null || !attributes.isRegularFile()) {
          return NONE;
        }
        update(sha, jar.toAbsolutePath().toString());
        update(sha, Long.toString(attributes.size()));
        update(sha, Long.toString(attributes.lastModifiedTime().toMillis()));
        update(sha, changeTime(jar));
      }
      String key = HexFormat.of().formatHex(sha.digest(), 0, 12);
      Path dir = cacheDir();
      UserPrincipal me = createPrivateDirectory(dir);
      if (me != null && !trusted(dir, me)) {
        return NONE; // others could plant an archive in it
      }
      String base = mainClass.substring(mainClass.lastIndexOf('.') + 1) + "-" + key;
      Path archive = dir.resolve(base + ".jsa");
      // Dumping warns about every class it skips; those lines would reach the parent's stderr.
      List<String> cdsLog = List.of("-Xlog:cds*=off:stderr");
      if (Files.isRegularFile(archive, LinkOption.NOFOLLOW_LINKS)
          && (me == null || trusted(archive, me, LinkOption.NOFOLLOW_LINKS))) {
        try {
          Files.setLastModifiedTime(archive, FileTime.from(Instant.now())); // marks it as in use, for pruning
        } catch (IOException ignored) {
          // read-only cache: fine
        }
        List<String> use = new ArrayList<>(cdsLog);
        use.add("-XX:SharedArchiveFile=" + archive);
        return new ClassDataArchive(use, null, archive, null);
      }
      Path lock = dir.resolve(base + ".lock");
      if (!claim(lock)) {
        return NONE; // another child is writing it
      }
      Path dumpTo = dir.resolve(base + "." + ProcessHandle.current().pid() + "." + System.nanoTime() + ".tmp");
      List<String> dump = new ArrayList<>(cdsLog);
      dump.add("-XX:ArchiveClassesAtExit=" + dumpTo);
      dump.add("-D" + DUMPING_PROPERTY + "=true");
      return new ClassDataArchive(dump, dumpTo, archive, lock);
    } catch (IOException | RuntimeException | NoSuchAlgorithmException e) {
      return NONE;
    }
  }

  /** Keeps the {@value #KEEP} most recently used archives; each is megabytes. */
  private static void prune(Path dir) {
    try (java.util.stream.Stream<Path> files = Files.list(dir)) {
      List<Path> archives = new ArrayList<>();
      long staleBefore = System.currentTimeMillis() - STALE_LOCK.toMillis();
      for (Path f : (Iterable<Path>) files::iterator) {
        String name = f.getFileName().toString();
        if (name.endsWith(".jsa")) {
          archives.add(f);
        } else if ((name.endsWith(".tmp") || name.endsWith(".lock")) && modified(f).toMillis() < staleBefore) {
          Files.deleteIfExists(f); // left by a writer that was killed: its lock is stale by now too
        }
      }
      if (archives.size() <= KEEP) {
        return;
      }
      archives.sort(java.util.Comparator.comparing(ClassDataArchive::modified).reversed());
      for (Path old : archives.subList(KEEP, archives.size())) {
        Files.deleteIfExists(old);
      }
    } catch (IOException | RuntimeException ignored) {
      // best effort
    }
  }

  private static FileTime modified(Path p) {
    try {
      return Files.getLastModifiedTime(p);
    } catch (IOException e) {
      return FileTime.fromMillis(0);
    }
  }

  private static boolean claim(Path lock) throws IOException {
    try {
      Files.createFile(lock);
      return true;
    } catch (FileAlreadyExistsException e) {
      FileTime t = Files.getLastModifiedTime(lock);
      if (t.toInstant().isBefore(Instant.now().minus(STALE_LOCK))) {
        Files.deleteIfExists(lock); // its writer died; the next child tries again
      }
      return false;
    }
  }

  private static final Set<PosixFilePermission> PRIVATE_DIR = PosixFilePermissions.fromString("rwx------");

  /**
   * Creates {@code dir} (and missing parents) {@code 0700} if it does not exist; returns the current
   * user, or {@code null} if the file system has no POSIX permissions.
   */
  private static UserPrincipal createPrivateDirectory(Path dir) throws IOException {
    if (!Files.isDirectory(dir)) {
      Path parent = dir.toAbsolutePath().getParent();
      Files.createDirectories(parent);
      if (!posix(parent)) {
        Files.createDirectories(dir);
        return null;
      }
      try {
        Files.createDirectory(dir, PosixFilePermissions.asFileAttribute(PRIVATE_DIR));
      } catch (FileAlreadyExistsException e) {
        // created concurrently: checked below like any existing directory
      }
    }
    return posix(dir) ? currentUser(dir) : null;
  }

  private static boolean posix(Path p) throws IOException {
    return Files.getFileStore(p).supportsFileAttributeView(PosixFileAttributeView.class);
  }

  private static volatile UserPrincipal currentUser;

  /** The user this JVM runs as: by name, else the owner of a probe file it creates in {@code dir}. */
  private static UserPrincipal currentUser(Path dir) throws IOException {
    UserPrincipal me = currentUser;
    if (me == null) {
      try {
        me = dir.getFileSystem().getUserPrincipalLookupService()
            .lookupPrincipalByName(System.getProperty("user.name"));
      } catch (IOException | RuntimeException e) {
        Path probe = Files.createTempFile(dir, ".owner", ".tmp");
        try {
          me = Files.getOwner(probe, LinkOption.NOFOLLOW_LINKS);
        } finally {
          Files.deleteIfExists(probe);
        }
      }
      currentUser = me;
    }
    return me;
  }

  /**
   * Whether {@code p} belongs to {@code me} and neither group nor others may write it; with
   * {@link LinkOption#NOFOLLOW_LINKS}, a symbolic link is never trusted.
   */
  static boolean trusted(Path p, UserPrincipal me, LinkOption... options) throws IOException {
    PosixFileAttributes a = Files.readAttributes(p, PosixFileAttributes.class, options);
    Set<PosixFilePermission> perms = a.permissions();
    return a.owner().equals(me) && !a.isSymbolicLink()
        && !perms.contains(PosixFilePermission.GROUP_WRITE) && !perms.contains(PosixFilePermission.OTHERS_WRITE);
  }

  private static Path cacheDir() {
    String explicit = System.getProperty("procpool.cds.dir");
    if (explicit != null) {
      return Path.of(explicit);
    }
    String xdg = System.getenv("XDG_CACHE_HOME");
    Path base = xdg != null && !xdg.isBlank() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".cache");
    return base.resolve("procpool").resolve("cds");
  }

  /** The jar's attributes (one stat call), or null if it cannot be read. */
  private static BasicFileAttributes attributes(Path jar) {
    try {
      return Files.readAttributes(jar, BasicFileAttributes.class);
    } catch (IOException e) {
      return null;
    }
  }

  /**
   * The jar's status-change time and file identity where the file system has them (a jar replaced by
   * one of the same size and modification time, as {@code cp -p}, {@code rsync -t} or a reproducible
   * build makes, still gets a new archive: the JVM's own check of an archive compares only size and
   * modification time); empty elsewhere.
   */
  private static String changeTime(Path jar) {
    try {
      Map<String, Object> a = Files.readAttributes(jar, "unix:ctime,ino"); // one stat call
      return a.get("ctime") + "/" + a.get("ino");
    } catch (UnsupportedOperationException | IllegalArgumentException | IOException e) {
      return "";
    }
  }

  private static void update(MessageDigest sha, String s) {
    sha.update(String.valueOf(s).getBytes(StandardCharsets.UTF_8));
    sha.update((byte) 0);
  }
}
