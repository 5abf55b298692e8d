package io.procpool.core.internal.process;

import java.io.File;
import java.io.IOException;
import java.net.URISyntaxException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.CodeSource;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.jar.JarFile;
import java.util.jar.Manifest;

/**
 * How a child JVM (a pool worker, a manager) is started so that it sees the classes this JVM sees.
 *
 * <p>{@link #detect} follows the application, in this order:
 *
 * <ol>
 *   <li>a classpath the user gave ({@code workerClasspath(...)}, {@code Manager.builder().classpath(...)})
 *       is used as is;
 *   <li>procpool loaded as a named module of the boot layer: the child runs on the same module path
 *       with the same root modules ({@link ModulePathLaunch});
 *   <li>procpool loaded by a Spring Boot executable jar's class loader: the child runs the same jar
 *       through Spring Boot's {@code PropertiesLauncher} with {@code -Dloader.main}, so nested jars
 *       resolve without unpacking (the Boot 3.2+ loader and the classic 2.x/3.0/3.1 one);
 *   <li>procpool (or the thread's context class loader, when that sees procpool too) loaded by
 *       {@link URLClassLoader}s below the application class loader, as under {@code mvn exec:java},
 *       IDE runners and application servers: their {@code file:} URLs follow {@code java.class.path};
 *   <li>otherwise {@code java.class.path}.
 * </ol>
 *
 * <p>Classpath plans are checked before any child starts: the classpath must hold procpool's
 * classes the child needs ({@link #check}); if it does not, the error says what was detected and
 * which option fixes it, instead of a child's {@code ClassNotFoundException} after three failed
 * starts.
 */
public final class LaunchPlan {
  private static final String BOOT_LOADER_PREFIX = "org.springframework.boot.loader.";

  private final List<String> prefix;
  private final String launcherClass;
  private final String classpath;
  private final String description;
  private final String fixHint;

  private LaunchPlan(List<String> prefix, String launcherClass, String classpath, String description,
      String fixHint) {
    this.prefix = List.copyOf(prefix);
    this.launcherClass = launcherClass;
    this.classpath = classpath;
    this.description = description;
    this.fixHint = fixHint;
  }

  /**
   * A plan that runs the child on this classpath.
   *
   * @param source where it comes from, for messages (e.g. {@code "workerClasspath(...)"})
   */
  public static LaunchPlan classpath(String classpath, String source, String fixHint) {
    return new LaunchPlan(List.of("-cp", classpath), null, classpath, "the classpath from " + source, fixHint);
  }

  /**
   * Decides how to start children of this JVM.
   *
   * @param override a classpath the user set, or {@code null} to follow this JVM
   * @param option the builder option that sets it, named in error messages, e.g.
   *     {@code "ProcessPool.builder().workerClasspath(...)"}
   */
  public static LaunchPlan detect(String override, String option) {
    String fixHint = "set " + option + " to the classpath of your application's classes and procpool's jars";
    if (override != null) {
      return classpath(override, option, fixHint);
    }
    if (LaunchPlan.class.getModule().isNamed()) {
      String unavailable = ModulePathLaunch.unavailableReason(LaunchPlan.class);
      if (unavailable != null) {
        throw new IllegalStateException(unavailable + "; " + fixHint);
      }
      return new LaunchPlan(List.of(), null, null, ModulePathLaunch.describe(), fixHint);
    }
    ClassLoader own = LaunchPlan.class.getClassLoader();
    ClassLoader context = Thread.currentThread().getContextClassLoader();
    ClassLoader start = context != null && isSelfOrDescendant(context, own) ? context : own;
    String javaClassPath = System.getProperty("java.class.path", "");
    ClassLoader boot = bootLoader(start);
    if (boot != null && !Files.isDirectory(Path.of(javaClassPath.isEmpty() ? "." : javaClassPath))) {
      // An executable jar; an unpacked one (java.class.path a directory) has file: URLs, handled below.
      return springBoot(boot, javaClassPath, fixHint);
    }
    List<ClassLoader> chain = new ArrayList<>();
    ClassLoader system = ClassLoader.getSystemClassLoader();
    for (ClassLoader l = start; l != null && l != system && l != ClassLoader.getPlatformClassLoader();
        l = l.getParent()) {
      chain.add(0, l); // outermost first: that is the order in which classes are found
    }
    if (chain.isEmpty()) {
      return classpath(javaClassPath, "java.class.path", fixHint);
    }
    Set<String> entries = new LinkedHashSet<>();
    if (isSelfOrDescendant(start, system)) {
      for (String e : javaClassPath.split(File.pathSeparator)) {
        if (!e.isEmpty()) {
          entries.add(e);
        }
      }
    }
    List<String> loaders = new ArrayList<>();
    for (ClassLoader l : chain) {
      loaders.add(l.getClass().getName());
      if (!(l instanceof URLClassLoader)) {
        continue; // cannot list its classes; check() finds out whether that matters
      }
      for (URL url : ((URLClassLoader) l).getURLs()) {
        Path p = fileOf(url);
        if (p != null) {
          entries.add(p.toString());
        }
      }
    }
    return classpath(String.join(File.pathSeparator, entries),
        "the class loaders " + String.join(" > ", loaders) + " (java.class.path alone is " + abbreviate(javaClassPath)
            + ")", fixHint);
  }

  private static LaunchPlan springBoot(ClassLoader loader, String javaClassPath, String fixHint) {
    String detected = "the parent runs from a Spring Boot executable jar (class loader "
        + loader.getClass().getName() + ", java.class.path " + abbreviate(javaClassPath) + ")";
    Path jar = javaClassPath.contains(File.pathSeparator) || javaClassPath.isEmpty() ? null : Path.of(javaClassPath);
    if (jar == null || !Files.isRegularFile(jar)) {
      throw new IllegalStateException(detected + ", but java.class.path is not that one jar, so procpool cannot"
          + " tell how to start child JVMs; " + fixHint);
    }
    String launcher;
    try (JarFile jf = new JarFile(jar.toFile())) {
      Manifest mf = jf.getManifest();
      String main = mf == null ? null : mf.getMainAttributes().getValue("Main-Class");
      if (main != null && main.endsWith("WarLauncher")) {
        throw new IllegalStateException(detected + ": an executable war (" + main + "), from which procpool cannot"
            + " start child JVMs; " + fixHint);
      }
      launcher = null;
      // The PropertiesLauncher of the loader generation this jar was built with: the package of its
      // Main-Class (JarLauncher) first, then the known generations.
      List<String> candidates = new ArrayList<>();
      if (main != null && main.startsWith(BOOT_LOADER_PREFIX) && main.lastIndexOf('.') > 0) {
        candidates.add(main.substring(0, main.lastIndexOf('.')) + ".PropertiesLauncher");
      }
      candidates.add(BOOT_LOADER_PREFIX + "launch.PropertiesLauncher"); // Spring Boot 3.2+
      candidates.add(BOOT_LOADER_PREFIX + "PropertiesLauncher"); // Spring Boot 2.x, 3.0, 3.1
      for (String c : candidates) {
        if (jf.getEntry(c.replace('.', '/') + ".class") != null) {
          launcher = c;
          break;
        }
      }
      if (launcher == null) {
        throw new IllegalStateException(detected + " whose loader version is unknown (Main-Class " + main
            + ", no PropertiesLauncher in the jar), so procpool cannot start child JVMs from it; " + fixHint);
      }
    } catch (IOException e) {
      throw new IllegalStateException(detected + ", but its manifest cannot be read (" + e.getMessage() + "); "
          + fixHint, e);
    }
    List<String> prefix = new ArrayList<>();
    // Settings the parent's own PropertiesLauncher honoured (loader.path, loader.home, ...) hold for
    // the child too; loader.main and loader.args are the child's own.
    for (Map.Entry<Object, Object> e : System.getProperties().entrySet()) {
      String k = String.valueOf(e.getKey());
      if (k.startsWith("loader.") && !k.equals("loader.main") && !k.equals("loader.args")) {
        prefix.add("-D" + k + "=" + e.getValue());
      }
    }
    prefix.add("-cp");
    prefix.add(jar.toString());
    return new LaunchPlan(prefix, launcher, null,
        "the Spring Boot executable jar " + jar + " through " + launcher + " with -Dloader.main", fixHint);
  }

  /** The Spring Boot loader among {@code loader} and its parents, or null. */
  private static ClassLoader bootLoader(ClassLoader loader) {
    for (ClassLoader l = loader; l != null; l = l.getParent()) {
      if (l.getClass().getName().startsWith(BOOT_LOADER_PREFIX)) {
        return l;
      }
    }
    return null;
  }

  private static boolean isSelfOrDescendant(ClassLoader l, ClassLoader ancestor) {
    for (ClassLoader c = l; c != null; c = c.getParent()) {
      if (c == ancestor) {
        return true;
      }
    }
    return ancestor == null;
  }

  private static Path fileOf(URL url) {
    if (!"file".equals(url.getProtocol())) {
      return null;
    }
    try {
      return Path.of(url.toURI());
    } catch (URISyntaxException | IllegalArgumentException e) {
      return null;
    }
  }

  private static String abbreviate(String s) {
    if (s.isEmpty()) {
      return "empty";
    }
    return s.length() <= 160 ? s : s.substring(0, 157) + "...";
  }

  /**
   * The java arguments, after the JVM options, that run {@code mainClass} with the program's
   * arguments following.
   *
   * @param jvmOptions the user's options for the child, already placed before these
   */
  public List<String> command(Class<?> mainClass, List<String> jvmOptions) {
    if (launcherClass == null && classpath == null) {
      return ModulePathLaunch.arguments(mainClass, jvmOptions);
    }
    List<String> cmd = new ArrayList<>(prefix.size() + 2);
    if (launcherClass != null) {
      cmd.add("-Dloader.main=" + mainClass.getName());
      cmd.addAll(prefix);
      cmd.add(launcherClass);
    } else {
      cmd.addAll(prefix);
      cmd.add(mainClass.getName());
    }
    return cmd;
  }

  /**
   * The plan as a cluster engine needs it: classpath entries to make visible on the nodes, options
   * before the main class, and the class to run.
   *
   * @throws IllegalStateException for a module-path launch, which cluster workers do not support
   */
  public ClusterForm clusterForm(Class<?> mainClass) {
    if (modular()) {
      throw new IllegalStateException("cluster workers run on a classpath, and this JVM runs procpool from the module"
          + " path; " + fixHint);
    }
    int cp = prefix.indexOf("-cp");
    List<String> options = new ArrayList<>(prefix.subList(0, cp));
    List<Path> entries = new ArrayList<>();
    for (String e : prefix.get(cp + 1).split(File.pathSeparator)) {
      if (!e.isEmpty()) {
        entries.add(Path.of(e).toAbsolutePath());
      }
    }
    if (launcherClass != null) {
      options.add(0, "-Dloader.main=" + mainClass.getName());
      return new ClusterForm(entries, options, launcherClass);
    }
    return new ClusterForm(entries, options, mainClass.getName());
  }

  /** See {@link #clusterForm}. */
  public record ClusterForm(List<Path> classpath, List<String> jvmOptions, String mainClass) {}

  /** Whether the child runs on the module path. */
  boolean modular() {
    return launcherClass == null && classpath == null;
  }

  /** The plain classpath of this plan, for class-data sharing; null when it is not a plain classpath. */
  String plainClasspath() {
    return classpath;
  }

  /** What was detected, for messages: e.g. "the classpath from java.class.path". */
  public String description() {
    return description;
  }

  /**
   * Whether a child's stderr says it could not find a class (procpool's, the transport's or the
   * user's): then a start failure message names {@link #fixHint()}.
   */
  public static boolean couldNotLoadClass(String stderr) {
    return stderr.contains("Could not find or load main class") || stderr.contains("ClassNotFoundException")
        || stderr.contains("NoClassDefFoundError") || stderr.contains("FindException")
        || stderr.contains("unknown transport");
  }

  /** The option that overrides the detection, as a sentence fragment for messages. */
  public String fixHint() {
    return fixHint;
  }

  /**
   * Checks, for a plain classpath plan, that a child would find these classes (procpool's main
   * class, the transport's provider): a class this JVM loaded from a jar or directory that is not on
   * the child's classpath, and that a class loader over that classpath cannot find, means the child
   * would fail with {@code ClassNotFoundException}.
   *
   * @throws IllegalStateException naming what was detected, the class missing, where this JVM loaded
   *     it from, and the option that fixes it
   */
  public void check(Class<?>... needed) {
    if (classpath == null) {
      return;
    }
    Set<String> entries = new LinkedHashSet<>();
    for (String e : classpath.split(File.pathSeparator)) {
      if (!e.isEmpty()) {
        entries.add(Path.of(e).toAbsolutePath().normalize().toString());
      }
    }
    List<Class<?>> unsure = new ArrayList<>();
    for (Class<?> c : needed) {
      Path from = location(c);
      if (from == null || !entries.contains(from.toAbsolutePath().normalize().toString())) {
        unsure.add(c);
      }
    }
    if (unsure.isEmpty()) {
      return; // the common case: every class's jar is listed
    }
    // A jar's manifest Class-Path, a wildcard, or a symbolic link may still reach them: ask a class
    // loader over exactly that classpath.
    List<URL> urls = new ArrayList<>();
    for (String e : classpath.split(File.pathSeparator)) {
      if (e.isEmpty()) {
        continue;
      }
      try {
        if (e.endsWith("*")) {
          Path dir = Path.of(e.substring(0, e.length() - 1));
          if (Files.isDirectory(dir)) {
            try (var jars = Files.list(dir)) {
              for (Path j : (Iterable<Path>) jars.filter(p -> p.toString().endsWith(".jar"))::iterator) {
                urls.add(j.toUri().toURL());
              }
            }
          }
        } else {
          urls.add(Path.of(e).toUri().toURL());
        }
      } catch (IOException | RuntimeException ignored) {
        // an entry the JVM would skip too
      }
    }
    try (URLClassLoader probe = new URLClassLoader(urls.toArray(new URL[0]), null)) {
      for (Class<?> c : unsure) {
        if (probe.findResource(c.getName().replace('.', '/') + ".class") == null) {
          Path from = location(c);
          throw new IllegalStateException("child JVMs would be started with " + description
              + ", which does not contain " + c.getName() + " (this JVM loaded it from "
              + (from != null ? from : "an unknown location") + " through "
              + (c.getClassLoader() == null ? "the boot class loader" : c.getClassLoader().getClass().getName())
              + "); " + fixHint);
        }
      }
    } catch (IOException ignored) {
      // closing the probe failed: nothing to report
    }
  }

  private static Path location(Class<?> c) {
    try {
      CodeSource cs = c.getProtectionDomain().getCodeSource();
      return cs == null || cs.getLocation() == null ? null : fileOf(cs.getLocation());
    } catch (SecurityException e) {
      return null;
    }
  }

  @Override
  public String toString() {
    return description;
  }
}
