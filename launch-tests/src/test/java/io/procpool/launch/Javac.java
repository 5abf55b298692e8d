package io.procpool.launch;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import javax.tools.Diagnostic;
import javax.tools.DiagnosticCollector;
import javax.tools.JavaCompiler;
import javax.tools.JavaFileObject;
import javax.tools.StandardJavaFileManager;
import javax.tools.ToolProvider;

/** Compiles a consumer application's sources with the JDK's compiler, in this JVM. */
final class Javac {
  private Javac() {}

  /** The directory holding the consumer applications' sources ({@code src/test/apps}). */
  static Path appsDir() {
    String configured = System.getProperty("procpool.launch.apps");
    Path dir = configured != null ? Path.of(configured) : Path.of("src", "test", "apps");
    if (!Files.isDirectory(dir)) {
      throw new IllegalStateException("the consumer applications' sources are not at " + dir.toAbsolutePath()
          + " (set -Dprocpool.launch.apps=<launch-tests>/src/test/apps)");
    }
    return dir;
  }

  /** Every {@code .java} file under each of {@code roots}, in name order. */
  static List<Path> sources(Path... roots) {
    List<Path> result = new ArrayList<>();
    for (Path root : roots) {
      try (Stream<Path> files = Files.walk(root)) {
        files.filter(f -> f.toString().endsWith(".java")).sorted().forEach(result::add);
      } catch (IOException e) {
        throw new UncheckedIOException("cannot list " + root, e);
      }
    }
    return result;
  }

  /**
   * Compiles {@code sources} for Java 17 into {@code output}.
   *
   * @param options extra options, e.g. {@code -cp <jars>} or {@code --module-path <jars>}
   * @throws AssertionError with the compiler's diagnostics if compilation fails
   */
  static void compile(List<Path> sources, Path output, List<String> options) {
    JavaCompiler compiler = ToolProvider.getSystemJavaCompiler();
    if (compiler == null) {
      throw new IllegalStateException("no system Java compiler: run the launch tests on a JDK, not a JRE ("
          + System.getProperty("java.home") + ")");
    }
    List<String> all = new ArrayList<>(List.of("--release", "17", "-proc:none", "-implicit:none",
        "-encoding", "UTF-8", "-d", output.toString()));
    all.addAll(options);
    DiagnosticCollector<JavaFileObject> diagnostics = new DiagnosticCollector<>();
    try (StandardJavaFileManager files =
             compiler.getStandardFileManager(diagnostics, Locale.ROOT, StandardCharsets.UTF_8)) {
      Files.createDirectories(output);
      boolean ok = compiler.getTask(null, files, diagnostics, all, null,
          files.getJavaFileObjectsFromPaths(sources)).call();
      if (!ok) {
        throw new AssertionError("compiling " + sources + " with " + all + " failed:\n"
            + diagnostics.getDiagnostics().stream()
                .filter(d -> d.getKind() == Diagnostic.Kind.ERROR)
                .map(d -> d.toString()).collect(Collectors.joining("\n")));
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
