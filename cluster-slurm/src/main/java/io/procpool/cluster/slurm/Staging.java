package io.procpool.cluster.slurm;

import io.procpool.cluster.slurm.SlurmCluster.ClasspathStaging;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipal;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

/**
 * Makes files of the pool's machine visible on the nodes: in place when they are on the staging
 * directory's file system (AUTO), otherwise copied once into {@code <stagingDir>/cache/<sha256>/<name>}
 * (directories packed as a jar with fixed timestamps, so that the same content gives the same hash).
 * Copies are written to a temporary name and renamed atomically, so concurrent pools never see a
 * partial file.
 */
final class Staging {
  static final Set<PosixFilePermission> DIR_0700 = PosixFilePermissions.fromString("rwx------");
  static final Set<PosixFilePermission> FILE_0600 = PosixFilePermissions.fromString("rw-------");
  private static final long FIXED_TIME = 315532800000L + 2 * 86400000L; // 1980-01-03: valid in zip's DOS time

  private final Path stagingDir;
  private final ClasspathStaging mode;
  private FileStore stagingStore;
  private Path cache;

  Staging(Path stagingDir, ClasspathStaging mode) {
    this.stagingDir = stagingDir;
    this.mode = mode;
  }

  /** The cache directory (created on first use). */
  Path cacheDir() {
    return stagingDir.resolve("cache");
  }

  /** The classpath entries as the nodes see them; missing entries are kept as they are (java skips them). */
  List<String> classpath(List<Path> entries) throws IOException {
    List<String> out = new ArrayList<>();
    for (Path e : entries) {
      Path abs = e.toAbsolutePath().normalize();
      out.add(Files.exists(abs) ? stage(abs).toString() : abs.toString());
    }
    return out;
  }

  /**
   * A file-valued property: if {@code value} is the absolute path of an existing regular file, the
   * path the nodes see; otherwise {@code value} unchanged.
   */
  String property(String value) throws IOException {
    return property("", value, null);
  }

  /**
   * A file-valued property: if {@code value} is the absolute path of an existing regular file, the
   * path the nodes see; otherwise {@code value} unchanged. A file whose property name says it is
   * secret ({@link #secret(String)}, e.g. a TLS client's private key) is never put in the shared
   * cache, which outlives the pool: when it must be copied, it goes into {@code privateDir} (the
   * session directory, deleted when the pool closes), created 0600.
   */
  String property(String key, String value, Path privateDir) throws IOException {
    if (value == null || value.isEmpty() || value.indexOf('\0') >= 0) {
      return value;
    }
    Path p;
    try {
      p = Path.of(value);
    } catch (RuntimeException e) {
      return value;
    }
    if (!p.isAbsolute() || !Files.isRegularFile(p)) {
      return value;
    }
    p = p.normalize();
    if (privateDir != null && secret(key) && stage(p, false) != p) {
      Path copy = privateDir.resolve("files");
      try {
        Files.createDirectory(copy, dir0700());
      } catch (FileAlreadyExistsException e) {
        // a second secret file
      }
      Path target = copy.resolve(key.replaceAll("[^A-Za-z0-9_.\\-]", "_") + "-" + p.getFileName());
      try (OutputStream out = Files.newOutputStream(Files.createFile(target, file0600()))) {
        Files.copy(p, out);
      }
      return target.toString();
    }
    return stage(p).toString();
  }

  /** Whether a property's name says its file is secret: a private key, a password, a secret, a token. */
  static boolean secret(String key) {
    String k = key.toLowerCase(java.util.Locale.ROOT);
    return k.contains("key") || k.contains("password") || k.contains("secret") || k.contains("token")
        || k.contains("credential");
  }

  /** An existing file or directory as the nodes see it. */
  Path stage(Path p) throws IOException {
    return stage(p, true);
  }

  /** {@code p} itself when it is used in place; otherwise its cached copy, or {@code null} if {@code copy} is false. */
  private Path stage(Path p, boolean copy) throws IOException {
    if (mode == ClasspathStaging.NEVER) {
      return p;
    }
    if (mode == ClasspathStaging.AUTO && Files.getFileStore(p).equals(stagingStore())) {
      return p;
    }
    if (!copy) {
      return null;
    }
    return Files.isDirectory(p) ? cacheDirectory(p) : cacheFile(p);
  }

  private FileStore stagingStore() throws IOException {
    if (stagingStore == null) {
      stagingStore = Files.getFileStore(stagingDir);
    }
    return stagingStore;
  }

  /** The cache, created 0700 if absent; refused if another user owns it or others may write to it. */
  Path cache() throws IOException {
    if (cache != null) {
      return cache;
    }
    Path c = cacheDir();
    try {
      Files.createDirectory(c, PosixFilePermissions.asFileAttribute(DIR_0700));
      Files.setPosixFilePermissions(c, DIR_0700);
    } catch (FileAlreadyExistsException e) {
      checkPrivate(c);
    }
    cache = c;
    return c;
  }

  /** Refuses a directory another user owns, or that others may write to (they could swap the jars). */
  static void checkPrivate(Path dir) throws IOException {
    if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
      throw new IOException(dir + " is not a directory");
    }
    UserPrincipal owner = Files.getOwner(dir, LinkOption.NOFOLLOW_LINKS);
    String me = System.getProperty("user.name");
    if (me != null && !owner.getName().equals(me)) {
      throw new IOException("the staging cache " + dir + " belongs to " + owner.getName() + ", not to " + me
          + ": its files would run in your workers; use a staging directory of your own");
    }
    Set<PosixFilePermission> perms = Files.getPosixFilePermissions(dir, LinkOption.NOFOLLOW_LINKS);
    if (perms.contains(PosixFilePermission.GROUP_WRITE) || perms.contains(PosixFilePermission.OTHERS_WRITE)) {
      throw new IOException("the staging cache " + dir + " is writable by others ("
          + PosixFilePermissions.toString(perms) + "): its files would run in your workers; make it 0700");
    }
  }

  /** SHA-256 of files already hashed in this JVM, by path, size, modification time and inode. */
  private static final Map<String, String> HASHES = new ConcurrentHashMap<>();
  private static final int MAX_HASHES = 10_000;

  private Path cacheFile(Path file) throws IOException {
    BasicFileAttributes a = Files.readAttributes(file, BasicFileAttributes.class);
    String id = file + "\0" + a.size() + "\0" + a.lastModifiedTime().toMillis() + "\0" + a.fileKey();
    String sha = HASHES.get(id);
    if (sha == null) {
      try (InputStream in = Files.newInputStream(file)) {
        MessageDigest md = sha256();
        byte[] buf = new byte[1 << 16];
        for (int n; (n = in.read(buf)) > 0; ) {
          md.update(buf, 0, n);
        }
        sha = HexFormat.of().formatHex(md.digest());
      }
      if (HASHES.size() >= MAX_HASHES) {
        HASHES.clear();
      }
      HASHES.put(id, sha);
    }
    Path target = cache().resolve(sha).resolve(file.getFileName().toString());
    if (Files.isRegularFile(target) && Files.size(target) == Files.size(file)) {
      return target;
    }
    Path dir = shaDir(sha);
    Path tmp = dir.resolve("." + file.getFileName() + "." + UUID.randomUUID() + ".tmp");
    try {
      Files.copy(file, tmp);
      Files.setPosixFilePermissions(tmp, FILE_0600);
      moveAtomically(tmp, target);
    } finally {
      Files.deleteIfExists(tmp);
    }
    return target;
  }

  private Path cacheDirectory(Path dir) throws IOException {
    Path c = cache();
    Path tmp = c.resolve(".pack-" + UUID.randomUUID() + ".tmp");
    try {
      MessageDigest md = sha256();
      try (OutputStream f = Files.newOutputStream(tmp);
          ZipOutputStream zip = new ZipOutputStream(new DigestOutputStream(f, md))) {
        pack(dir, zip);
      }
      Files.setPosixFilePermissions(tmp, FILE_0600);
      String sha = HexFormat.of().formatHex(md.digest());
      String name = (dir.getFileName() == null ? "root" : dir.getFileName().toString()) + ".jar";
      Path target = c.resolve(sha).resolve(name);
      if (!Files.isRegularFile(target)) {
        shaDir(sha);
        moveAtomically(tmp, target);
      }
      return target;
    } finally {
      Files.deleteIfExists(tmp);
    }
  }

  /** Packs a directory tree: entries sorted by name, fixed times, so the bytes depend only on the content. */
  private static void pack(Path root, ZipOutputStream zip) throws IOException {
    List<Path> all;
    try (Stream<Path> s = Files.walk(root)) {
      all = s.filter(p -> !p.equals(root)).sorted((a, b) -> rel(root, a).compareTo(rel(root, b))).toList();
    }
    for (Path p : all) {
      boolean dir = Files.isDirectory(p);
      if (!dir && !Files.isRegularFile(p)) {
        continue;
      }
      ZipEntry e = new ZipEntry(rel(root, p) + (dir ? "/" : ""));
      e.setTime(FIXED_TIME);
      zip.putNextEntry(e);
      if (!dir) {
        Files.copy(p, zip);
      }
      zip.closeEntry();
    }
  }

  private static String rel(Path root, Path p) {
    return root.relativize(p).toString().replace(p.getFileSystem().getSeparator(), "/");
  }

  private Path shaDir(String sha) throws IOException {
    Path d = cache().resolve(sha);
    try {
      Files.createDirectory(d, PosixFilePermissions.asFileAttribute(DIR_0700));
    } catch (FileAlreadyExistsException e) {
      // another pool got there first
    }
    return d;
  }

  private static void moveAtomically(Path tmp, Path target) throws IOException {
    try {
      Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
    } catch (AtomicMoveNotSupportedException e) {
      throw new IOException("the staging file system does not rename atomically: " + e.getMessage(), e);
    }
  }

  private static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("no SHA-256 in this JDK", e);
    }
  }

  /** Owner-only directory attribute, for creation. */
  static FileAttribute<Set<PosixFilePermission>> dir0700() {
    return PosixFilePermissions.asFileAttribute(DIR_0700);
  }

  /** Owner-only file attribute, for creation. */
  static FileAttribute<Set<PosixFilePermission>> file0600() {
    return PosixFilePermissions.asFileAttribute(FILE_0600);
  }
}
