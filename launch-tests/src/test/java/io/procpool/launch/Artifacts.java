package io.procpool.launch;

import java.io.File;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.CodeSource;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.jar.Attributes;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import java.util.stream.Stream;

/**
 * The procpool artifacts (and their dependencies) a consumer application is built and run against,
 * found on this test's own classpath, always as jars: a reactor module that Maven hands over as a
 * {@code target/classes} directory is packed into a jar first (with its {@code Automatic-Module-Name},
 * as its real jar has, unless it already holds a {@code module-info.class}).
 */
final class Artifacts {
  /** One artifact: a class that only it contains, the jar name used here, its module name. */
  enum Artifact {
    POOL_API("io.procpool.api.ProcessPool", "pool-api", "io.procpool.api"),
    POOL_CORE("io.procpool.core.WorkerMain", "pool-core", "io.procpool.core"),
    IPC_PIPES("io.procpool.ipc.pipes.PipesTransportProvider", "ipc-pipes", "io.procpool.ipc.pipes"),
    MANAGER_QUEUE("io.procpool.manager.DefaultManagerFactory", "manager-queue", "io.procpool.manager"),
    IPC_GRPC("io.procpool.ipc.grpc.GrpcTransportProvider", "ipc-grpc", "io.procpool.ipc.grpc"),
    GUAVA("com.google.common.collect.ImmutableList", "guava", "com.google.common"),
    FAILUREACCESS("com.google.common.util.concurrent.internal.InternalFutureFailureAccess", "failureaccess",
        "com.google.common.util.concurrent.internal");

    final String markerClass;
    final String jarName;
    final String moduleName;

    Artifact(String markerClass, String jarName, String moduleName) {
      this.markerClass = markerClass;
      this.jarName = jarName;
      this.moduleName = moduleName;
    }
  }

  /** What every scenario needs: the pool, the pipes transport, the manager, and Guava. */
  static final List<Artifact> PIPES = List.of(Artifact.POOL_API, Artifact.POOL_CORE, Artifact.IPC_PIPES,
      Artifact.MANAGER_QUEUE, Artifact.GUAVA, Artifact.FAILUREACCESS);

  /**
   * Packages whose jars on this test's classpath belong to the test itself (JUnit, Surefire, Spring
   * Boot's repackaging tool and its dependencies), never to a consumer application.
   */
  private static final Set<String> TEST_ONLY_PACKAGES = Set.of("org/junit/", "org/opentest4j/",
      "org/apiguardian/", "org/springframework/", "org/apache/commons/", "org/apache/maven/");

  private final Path dir;
  private final Map<Artifact, Path> jars = new LinkedHashMap<>();

  /**
   * @param dir where directories are packed into jars
   */
  Artifacts(Path dir) {
    this.dir = dir;
  }

  /** The jar of {@code artifact}. */
  synchronized Path jar(Artifact artifact) {
    Path jar = jars.get(artifact);
    if (jar == null) {
      Path location = location(artifact.markerClass);
      jar = Files.isDirectory(location) ? pack(location, artifact) : location;
      jars.put(artifact, jar);
    }
    return jar;
  }

  /** The jars of {@code artifacts}, in that order. */
  List<Path> jars(List<Artifact> artifacts) {
    List<Path> result = new ArrayList<>();
    for (Artifact artifact : artifacts) {
      result.add(jar(artifact));
    }
    return result;
  }

  /**
   * The runtime class path of an application using the gRPC transport: {@link #PIPES}, ipc-grpc, and
   * every other entry of this test's class path (gRPC, Netty, protobuf and their dependencies) except
   * the test's own classes and test-only libraries.
   */
  List<Path> grpcClasspath() {
    List<Path> result = new ArrayList<>(jars(PIPES));
    result.add(jar(Artifact.IPC_GRPC));
    List<Path> known = new ArrayList<>();
    for (Artifact artifact : Artifact.values()) {
      known.add(location(artifact.markerClass));
    }
    for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
      if (entry.isEmpty()) {
        continue;
      }
      Path path = Path.of(entry).toAbsolutePath().normalize();
      if (known.contains(path) || Files.isDirectory(path) || !Files.exists(path)
          || path.getFileName().toString().startsWith("junit-") || containsTestOnlyClasses(path)) {
        continue; // directories: this module's (test-)classes; procpool's own modules are in known
      }
      result.add(path);
    }
    return result;
  }

  /** Joins paths with the platform's path separator. */
  static String pathOf(List<Path> paths) {
    return String.join(File.pathSeparator, paths.stream().map(Path::toString).toList());
  }

  /** The jar or directory this test loaded {@code className} from. */
  static Path location(String className) {
    try {
      CodeSource source = Class.forName(className, false, Artifacts.class.getClassLoader())
          .getProtectionDomain().getCodeSource();
      if (source == null || source.getLocation() == null) {
        throw new IllegalStateException("no code source for " + className);
      }
      return Path.of(source.getLocation().toURI()).toAbsolutePath().normalize();
    } catch (ClassNotFoundException e) {
      throw new IllegalStateException(className + " is not on the launch tests' class path; "
          + "is its artifact a test dependency of launch-tests?", e);
    } catch (URISyntaxException e) {
      throw new IllegalStateException(e);
    }
  }

  private static boolean containsTestOnlyClasses(Path jar) {
    try (JarFile file = new JarFile(jar.toFile())) {
      return file.stream().anyMatch(e -> TEST_ONLY_PACKAGES.stream().anyMatch(e.getName()::startsWith));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + jar, e);
    }
  }

  private Path pack(Path classes, Artifact artifact) {
    Path jar = dir.resolve(artifact.jarName + ".jar");
    Manifest manifest = new Manifest();
    manifest.getMainAttributes().put(Attributes.Name.MANIFEST_VERSION, "1.0");
    if (!Files.exists(classes.resolve("module-info.class"))) {
      manifest.getMainAttributes().put(new Attributes.Name("Automatic-Module-Name"), artifact.moduleName);
    }
    writeJar(classes, jar, manifest);
    return jar;
  }

  /**
   * Writes the files under {@code root} into {@code jar} (the manifest first, then entries in name
   * order, so the result does not depend on the file system's order).
   */
  static void writeJar(Path root, Path jar, Manifest manifest) {
    try (OutputStream out = Files.newOutputStream(jar);
         JarOutputStream jarOut = new JarOutputStream(out, manifest);
         Stream<Path> files = Files.walk(root)) {
      for (Path file : files.filter(Files::isRegularFile).sorted().toList()) {
        String name = root.relativize(file).toString().replace(File.separatorChar, '/');
        if (name.equals(JarFile.MANIFEST_NAME)) {
          continue;
        }
        jarOut.putNextEntry(new JarEntry(name));
        Files.copy(file, jarOut);
        jarOut.closeEntry();
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + jar, e);
    }
  }
}
