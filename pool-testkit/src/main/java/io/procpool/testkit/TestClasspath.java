package io.procpool.testkit;

import java.io.File;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.stream.Stream;

/**
 * This JVM's classpath with every directory on it (a module's {@code target/classes} and
 * {@code target/test-classes} under Maven) packed into a jar, for the worker and manager JVMs that
 * tests start: class-data sharing cannot archive classes loaded from directories, and a gRPC worker
 * starts in about a second with an archive against two to three without. The jars are made once per
 * JVM, in a temporary directory removed at exit ({@code -Dprocpool.test.keepClassDirectories=true}
 * keeps the classpath as it is).
 *
 * <p>The suites use it through {@link AbstractContractTest#builder()}; a test that is about how
 * workers find their classes must not.
 */
public final class TestClasspath {
  private static volatile String jarred;

  private TestClasspath() {}

  /** The classpath, with directories replaced by jars of their contents; this JVM's own if that fails. */
  public static String jarred() {
    String cp = jarred;
    if (cp == null) {
      synchronized (TestClasspath.class) {
        cp = jarred;
        if (cp == null) {
          String classpath = System.getProperty("java.class.path");
          jarred = cp = Boolean.getBoolean("procpool.test.keepClassDirectories") ? classpath : pack(classpath);
        }
      }
    }
    return cp;
  }

  private static String pack(String classpath) {
    try {
      Path out = Files.createTempDirectory("procpool-test-classpath");
      out.toFile().deleteOnExit();
      List<String> entries = new ArrayList<>();
      int n = 0;
      for (String entry : classpath.split(File.pathSeparator)) {
        Path p = Path.of(entry);
        if (entry.isEmpty() || !Files.isDirectory(p)) {
          entries.add(entry);
          continue;
        }
        Path jar = out.resolve((n++) + "-" + p.getFileName() + ".jar");
        jar.toFile().deleteOnExit();
        writeJar(p, jar);
        entries.add(jar.toString());
      }
      return String.join(File.pathSeparator, entries);
    } catch (IOException | UncheckedIOException e) {
      System.err.println("procpool tests: could not pack the classpath's directories into jars (" + e
          + "); workers use the classpath as it is");
      return classpath;
    }
  }

  private static void writeJar(Path dir, Path jar) throws IOException {
    try (OutputStream os = Files.newOutputStream(jar); JarOutputStream out = new JarOutputStream(os);
        Stream<Path> files = Files.walk(dir)) {
      for (Path f : (Iterable<Path>) files.sorted()::iterator) {
        String name = dir.relativize(f).toString().replace(File.separatorChar, '/');
        if (name.isEmpty()) {
          continue;
        }
        if (Files.isDirectory(f)) {
          out.putNextEntry(new JarEntry(name + "/"));
          out.closeEntry();
        } else {
          out.putNextEntry(new JarEntry(name));
          Files.copy(f, out);
          out.closeEntry();
        }
      }
    }
  }
}
