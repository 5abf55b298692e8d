package io.procpool.launch;

import io.procpool.launch.Artifacts.Artifact;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.jar.Attributes;
import java.util.jar.JarFile;
import java.util.jar.Manifest;
import org.springframework.boot.loader.tools.Layouts;
import org.springframework.boot.loader.tools.Library;
import org.springframework.boot.loader.tools.LibraryScope;
import org.springframework.boot.loader.tools.LoaderImplementation;
import org.springframework.boot.loader.tools.Repackager;

/**
 * Builds the consumer application (sources in {@code src/test/apps}) in each packaging the launch
 * scenarios run, each at most once, under one work directory:
 *
 * <ul>
 *   <li>{@code app/}: its classes, compiled on the class path against the procpool jars;
 *   <li>{@code app.jar}: the same as a plain jar whose manifest names {@code app.Main};
 *   <li>{@code launcher.jar}: the exec:java-style launcher ({@code launcher.IsolatedLauncher});
 *   <li>{@code boot-*.jar}: Spring Boot executable jars, repackaged from {@code app.jar} by Boot's own
 *       tool, with procpool and Guava nested under {@code BOOT-INF/lib};
 *   <li>{@code mods/}: the application compiled as module {@code app} (with
 *       {@code consumer-module/module-info.java}), packed as {@code app.jar}, beside the procpool and
 *       Guava jars.
 * </ul>
 */
final class ConsumerApps {
  /** The application's main class. */
  static final String MAIN_CLASS = "app.Main";

  /** The launcher of Spring Boot's loader since 3.2. */
  static final String LAUNCHER = "org.springframework.boot.loader.launch.JarLauncher";

  /** The launcher of Spring Boot's classic loader (the 2.x loader). */
  static final String CLASSIC_LAUNCHER = "org.springframework.boot.loader.JarLauncher";

  private final Path dir;
  private final Artifacts artifacts;
  private Path classes;
  private Path appJar;
  private Path launcherJar;
  private Path modules;

  /**
   * @param dir an empty work directory
   */
  ConsumerApps(Path dir) {
    this.dir = dir;
    try {
      this.artifacts = new Artifacts(Files.createDirectories(dir.resolve("deps")));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The work directory. */
  Path dir() {
    return dir;
  }

  /** The procpool and dependency jars. */
  Artifacts artifacts() {
    return artifacts;
  }

  /** The application's classes directory, compiled for the class path. */
  synchronized Path classes() {
    if (classes == null) {
      Path out = dir.resolve("app");
      Javac.compile(Javac.sources(Javac.appsDir().resolve("consumer")), out,
          List.of("-cp", Artifacts.pathOf(artifacts.jars(Artifacts.PIPES))));
      classes = out;
    }
    return classes;
  }

  /** The application's class path: its classes, then {@code dependencies}. */
  String classpath(List<Path> dependencies) {
    List<Path> all = new ArrayList<>();
    all.add(classes());
    all.addAll(dependencies);
    return Artifacts.pathOf(all);
  }

  /** The application as a plain jar whose manifest's {@code Main-Class} is {@link #MAIN_CLASS}. */
  synchronized Path appJar() {
    if (appJar == null) {
      Path jar = dir.resolve("app.jar");
      Artifacts.writeJar(classes(), jar, manifest(MAIN_CLASS));
      appJar = jar;
    }
    return appJar;
  }

  /** The exec:java-style launcher jar, with nothing else on its class path. */
  synchronized Path launcherJar() {
    if (launcherJar == null) {
      Path out = dir.resolve("launcher");
      Javac.compile(Javac.sources(Javac.appsDir().resolve("exec-launcher")), out, List.of());
      Path jar = dir.resolve("launcher.jar");
      Artifacts.writeJar(out, jar, manifest("launcher.IsolatedLauncher"));
      launcherJar = jar;
    }
    return launcherJar;
  }

  /**
   * A Spring Boot executable jar of the application, built by Boot's {@code Repackager} with
   * {@code loader}; procpool and Guava are nested libraries.
   *
   * @param name the jar's file name without {@code .jar}
   */
  Path bootJar(String name, LoaderImplementation loader) {
    Path jar = dir.resolve(name + ".jar");
    Repackager repackager = new Repackager(appJar().toFile());
    repackager.setLoaderImplementation(loader);
    if (loader == LoaderImplementation.CLASSIC) {
      // Boot 3.x would still name its shim org.springframework.boot.loader.launch.JarLauncher (which
      // delegates to the classic loader); a Boot 2.x jar names the classic launcher itself. Do as 2.x.
      repackager.setLayout(new Layouts.Jar() {
        @Override
        public String getLauncherClassName() {
          return CLASSIC_LAUNCHER;
        }
      });
    }
    repackager.setBackupSource(false);
    List<Path> libraries = artifacts.jars(Artifacts.PIPES);
    try {
      repackager.repackage(jar.toFile(), callback -> {
        for (Path library : libraries) {
          callback.library(new Library(library.toFile(), LibraryScope.COMPILE));
        }
      });
    } catch (IOException e) {
      throw new UncheckedIOException("cannot repackage " + appJar() + " into " + jar, e);
    }
    return jar;
  }

  /** The main attributes of {@code jar}'s manifest. */
  static Attributes mainAttributes(Path jar) {
    try (JarFile file = new JarFile(jar.toFile())) {
      return file.getManifest().getMainAttributes();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the manifest of " + jar, e);
    }
  }

  /** Whether {@code jar} has an entry named {@code name}. */
  static boolean hasEntry(Path jar, String name) {
    try (JarFile file = new JarFile(jar.toFile())) {
      return file.getEntry(name) != null;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + jar, e);
    }
  }

  /**
   * A directory of modules: the application compiled as module {@code app} against the procpool and
   * Guava jars on the module path, and those jars.
   */
  synchronized Path modules() {
    if (modules == null) {
      modules = modules("mods", artifacts.jars(Artifacts.PIPES));
    }
    return modules;
  }

  /**
   * A directory of modules named {@code name}: the application compiled as module {@code app}, and
   * copies of {@code jars} (procpool's named modules, the others automatic ones).
   */
  Path modules(String name, List<Path> jars) {
    Path mods = dir.resolve(name);
    try {
      Files.createDirectories(mods);
      List<Path> dependencies = new ArrayList<>();
      for (Path jar : jars) {
        Path copy = mods.resolve(jar.getFileName());
        Files.copy(jar, copy, StandardCopyOption.REPLACE_EXISTING);
        dependencies.add(copy);
      }
      Path out = dir.resolve(name + "-app");
      Javac.compile(Javac.sources(Javac.appsDir().resolve("consumer"), Javac.appsDir().resolve("consumer-module")),
          out, List.of("--module-path", Artifacts.pathOf(dependencies)));
      Artifacts.writeJar(out, mods.resolve("app.jar"), manifest(null));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return mods;
  }

  private static Manifest manifest(String mainClass) {
    Manifest manifest = new Manifest();
    manifest.getMainAttributes().put(Attributes.Name.MANIFEST_VERSION, "1.0");
    if (mainClass != null) {
      manifest.getMainAttributes().put(Attributes.Name.MAIN_CLASS, mainClass);
    }
    return manifest;
  }
}
