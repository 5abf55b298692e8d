package io.procpool.core.internal.process;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.procpool.core.WorkerMain;
import java.io.File;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LaunchPlanTest {
  private static final String OPTION = "ProcessPool.builder().workerClasspath(...)";

  @Test
  void aPlainClasspathLaunchRunsJavaClassPath() {
    LaunchPlan plan = LaunchPlan.detect(null, OPTION);
    assertEquals(List.of("-cp", System.getProperty("java.class.path"), WorkerMain.class.getName()),
        plan.command(WorkerMain.class, List.of()));
    assertEquals("the classpath from java.class.path", plan.description());
    plan.check(WorkerMain.class); // the test's classpath holds pool-core
  }

  @Test
  void theUsersClasspathIsUsedAsIs() {
    LaunchPlan plan = LaunchPlan.detect("/x/a.jar" + File.pathSeparator + "/x/b", OPTION);
    assertEquals(List.of("-cp", "/x/a.jar" + File.pathSeparator + "/x/b", WorkerMain.class.getName()),
        plan.command(WorkerMain.class, List.of("-Xmx64m")));
  }

  @Test
  void aContextClassLoaderBelowTheApplicationLoaderAddsItsFileUrls(@TempDir Path dir) throws Exception {
    Path classes = Files.createDirectories(dir.resolve("app classes"));
    Path jar = Files.createFile(dir.resolve("lib.jar"));
    Thread t = Thread.currentThread();
    ClassLoader before = t.getContextClassLoader();
    try (URLClassLoader execJava = new URLClassLoader(
        new URL[] {classes.toUri().toURL(), jar.toUri().toURL(), new URL("http://example.invalid/remote.jar")},
        ClassLoader.getSystemClassLoader())) {
      t.setContextClassLoader(execJava);
      LaunchPlan plan = LaunchPlan.detect(null, OPTION);
      List<String> cmd = plan.command(WorkerMain.class, List.of());
      String cp = cmd.get(1);
      String first = System.getProperty("java.class.path").split(File.pathSeparator)[0];
      assertTrue(cp.startsWith(first + File.pathSeparator), cp); // the application loader's classes come first
      assertTrue(cp.endsWith(File.pathSeparator + classes + File.pathSeparator + jar), cp);
      assertTrue(plan.description().contains(URLClassLoader.class.getName()), plan.description());
      plan.check(WorkerMain.class);
    } finally {
      t.setContextClassLoader(before);
    }
  }

  @Test
  void aContextClassLoaderThatCannotSeeProcpoolIsIgnored() throws Exception {
    Thread t = Thread.currentThread();
    ClassLoader before = t.getContextClassLoader();
    try (URLClassLoader unrelated = new URLClassLoader(new URL[0], null)) {
      t.setContextClassLoader(unrelated);
      assertEquals("the classpath from java.class.path", LaunchPlan.detect(null, OPTION).description());
    } finally {
      t.setContextClassLoader(before);
    }
  }

  @Test
  void aClasspathWithoutProcpoolFailsBeforeAnyChildStartsAndSaysWhatToSet(@TempDir Path dir) {
    LaunchPlan plan = LaunchPlan.classpath(dir.toString(), "java.class.path", "set " + OPTION + " to it");
    IllegalStateException e = assertThrows(IllegalStateException.class, () -> plan.check(WorkerMain.class));
    assertTrue(e.getMessage().contains("does not contain io.procpool.core.WorkerMain"), e.getMessage());
    assertTrue(e.getMessage().contains("the classpath from java.class.path"), e.getMessage());
    assertTrue(e.getMessage().contains(OPTION), e.getMessage());
  }

  @Test
  void aJarWhoseManifestClassPathReachesProcpoolPassesTheCheck(@TempDir Path dir) throws Exception {
    // IDEs shorten long classpaths this way: one jar whose manifest lists the real entries.
    StringBuilder classPath = new StringBuilder();
    for (String e : System.getProperty("java.class.path").split(File.pathSeparator)) {
      Path p = Path.of(e).toAbsolutePath();
      classPath.append(p.toUri()).append(' ');
    }
    java.util.jar.Manifest mf = new java.util.jar.Manifest();
    mf.getMainAttributes().put(java.util.jar.Attributes.Name.MANIFEST_VERSION, "1.0");
    mf.getMainAttributes().put(java.util.jar.Attributes.Name.CLASS_PATH, classPath.toString().trim());
    Path pathingJar = dir.resolve("classpath.jar");
    try (var out = new java.util.jar.JarOutputStream(Files.newOutputStream(pathingJar), mf)) {
      // a manifest only
    }
    LaunchPlan.classpath(pathingJar.toString(), "java.class.path", "set it").check(WorkerMain.class);
  }

  @Test
  void aChildThatCouldNotLoadAClassIsRecognizedFromItsStderr() {
    assertTrue(LaunchPlan.couldNotLoadClass("Error: Could not find or load main class io.procpool.core.WorkerMain"));
    assertTrue(LaunchPlan.couldNotLoadClass("java.lang.NoClassDefFoundError: com/google/common/base/Preconditions"));
    assertTrue(LaunchPlan.couldNotLoadClass("java.lang.module.FindException: Module app not found"));
    assertTrue(!LaunchPlan.couldNotLoadClass("java.lang.OutOfMemoryError: Java heap space"));
  }

  @Test
  void childJvmsAreKeptQuietOnNewJdksUnlessTheUserDecided() {
    assertEquals(List.of(), ChildJvm.quietOptions(17, List.of(), List.of()));
    assertEquals(List.of("--enable-native-access=ALL-UNNAMED"), ChildJvm.quietOptions(22, List.of(), List.of()));
    assertEquals(List.of("--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow"),
        ChildJvm.quietOptions(25, List.of(), List.of()));
    assertEquals(List.of("--enable-native-access=ALL-UNNAMED"),
        ChildJvm.quietOptions(25, List.of("--sun-misc-unsafe-memory-access=warn"), List.of()));
    assertEquals(List.of("--enable-native-access=ALL-UNNAMED,io.grpc.netty.shaded", "--sun-misc-unsafe-memory-access=allow"),
        ChildJvm.quietOptions(25, List.of(), List.of("io.grpc.netty.shaded")));
    assertEquals(List.of("--sun-misc-unsafe-memory-access=allow"),
        ChildJvm.quietOptions(25, List.of("--enable-native-access=ALL-UNNAMED"), List.of("io.grpc.netty.shaded")));
  }
}
