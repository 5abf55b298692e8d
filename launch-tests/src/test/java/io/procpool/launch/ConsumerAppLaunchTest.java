package io.procpool.launch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;
import java.util.jar.Attributes;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.loader.tools.LoaderImplementation;

/**
 * Launches a real consumer application of procpool (built at test time from {@code src/test/apps})
 * in each way Java applications are run, one scenario per test, one after the other. Each run must
 * use a pool of two worker JVMs ({@code apply}, a {@code map} of an application function, two tasks
 * that meet through a manager's queues), print the expected {@code RESULT} line, exit 0, and leave no
 * process behind (see {@link AppRun}).
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ConsumerAppLaunchTest {
  /** Where a JDK 25 is looked for when {@code PROCPOOL_JDK25_HOME} is not set. */
  static final Path DEFAULT_JDK25 = Path.of("/usr/lib/jvm/temurin-25-jdk-amd64");

  /** Sum of the squares of 1..100, the application's {@code map} result. */
  private static final long SUM_OF_SQUARES = 338_350;

  private static final Pattern RESULT = Pattern.compile(
      "RESULT app=(\\d+) apply=(\\d+) map=(\\d+) queue=(\\S*) workers=([\\d,]*) pool=([\\d,]*)");

  /** The built applications and each run's output; kept after a failure, for a look or a rerun by hand. */
  @TempDir(cleanup = CleanupMode.ON_SUCCESS)
  static Path work;

  private static ConsumerApps apps;

  @BeforeAll
  static void buildApplication() {
    apps = new ConsumerApps(work);
    apps.classes(); // compile once, before the first scenario's clock starts
  }

  /** {@code java -cp app:<deps> app.Main}. */
  @Test
  @Order(1)
  void plainClasspath() {
    List<Path> deps = apps.artifacts().jars(Artifacts.PIPES);
    launch("classpath", java(), "-cp", apps.classpath(deps), ConsumerApps.MAIN_CLASS);
  }

  /**
   * As {@code mvn exec:java} runs it: {@code java.class.path} is only a launcher jar; the application
   * and procpool come from a {@code URLClassLoader}. Before issue 11: {@code WorkerStartException},
   * workers cannot find {@code io.procpool.core.WorkerMain}.
   */
  @Test
  @Order(2)
  void execJavaStyle() {
    String appClasspath = apps.classpath(apps.artifacts().jars(Artifacts.PIPES));
    launch("exec-java", java(), "-cp", apps.launcherJar().toString(), "launcher.IsolatedLauncher",
        appClasspath, ConsumerApps.MAIN_CLASS);
  }

  /**
   * {@code java -jar} of a Spring Boot executable jar with the loader of Boot 3.2+, procpool nested
   * under {@code BOOT-INF/lib}. Before issue 11: {@code WorkerStartException}, no {@code WorkerMain}.
   */
  @Test
  @Order(3)
  void springBootJar() {
    Path jar = apps.bootJar("boot-default", LoaderImplementation.DEFAULT);
    assertBootJar(jar, ConsumerApps.LAUNCHER);
    assertFalse(ConsumerApps.hasEntry(jar, classFile(ConsumerApps.CLASSIC_LAUNCHER)), "classic loader in " + jar);
    launch("spring-boot", java(), "-jar", jar.toString());
  }

  /**
   * {@code java -jar} of a Spring Boot executable jar with the classic (2.x) loader. Before issue 11:
   * {@code WorkerStartException}, no {@code WorkerMain}.
   */
  @Test
  @Order(4)
  void springBootJarClassicLoader() {
    Path jar = apps.bootJar("boot-classic", LoaderImplementation.CLASSIC);
    assertBootJar(jar, ConsumerApps.CLASSIC_LAUNCHER);
    assertFalse(ConsumerApps.hasEntry(jar, "org/springframework/boot/loader/launch/LaunchedClassLoader.class"),
        "the new loader in " + jar);
    launch("spring-boot-classic", java(), "-jar", jar.toString());
  }

  /**
   * {@code java -p mods -m app/app.Main}, the application a named module that requires only
   * {@code io.procpool.api}. Before issue 11: {@code NoClassDefFoundError} of a Guava class (procpool's
   * jars were automatic modules and nothing required Guava's named module).
   */
  @Test
  @Order(5)
  void modulePath() {
    Path mods = apps.modules();
    launch("module-path", java(), "-p", mods.toString(), "-m", "app/" + ConsumerApps.MAIN_CLASS);
  }

  /** The classpath application on JDK 25 with the pipes transport: it must print no JVM warning. */
  @Test
  @Order(6)
  void jdk25Pipes() {
    Path java25 = jdk25Java("jdk25-pipes");
    launch("jdk25-pipes", ConsumerAppLaunchTest::assertNoWarnings, java25.toString(), "-cp",
        apps.classpath(apps.artifacts().jars(Artifacts.PIPES)), ConsumerApps.MAIN_CLASS, "pipes");
  }

  /**
   * The classpath application on JDK 25 with the grpc transport: it must print no JVM warning. Before
   * issue 11 each worker and the manager printed Netty's native-access warnings.
   */
  @Test
  @Order(7)
  void jdk25Grpc() {
    Path java25 = jdk25Java("jdk25-grpc");
    // The application's own JVM is the user's to configure: like any gRPC application on JDK 24+ it
    // enables native access for Netty. What is checked is that the JVMs procpool starts print nothing.
    launch("jdk25-grpc", ConsumerAppLaunchTest::assertNoWarnings, java25.toString(),
        "--enable-native-access=ALL-UNNAMED", "-cp", apps.classpath(apps.artifacts().grpcClasspath()),
        ConsumerApps.MAIN_CLASS, "grpc");
  }

  /**
   * The modular application on JDK 25 with the grpc transport, gRPC's jars automatic modules: the
   * application's own JVM enables native access for {@code io.grpc.netty.shaded} only if it wants to,
   * so it is not told to here, and prints Netty's warning once itself; the JVMs procpool starts must
   * print none (shaded Netty is a named module there, which {@code ALL-UNNAMED} does not cover).
   */
  @Test
  @Order(8)
  void modulePathJdk25Grpc() {
    Path java25 = jdk25Java("module-path-jdk25-grpc");
    Path mods = apps.modules("mods-grpc", apps.artifacts().grpcClasspath());
    launch("module-path-jdk25-grpc", run -> {
      long restricted = run.linesStartingWith("WARNING:").stream()
          .filter(l -> l.startsWith("WARNING: A restricted method")).count();
      assertTrue(restricted <= 1, () -> "the workers or the manager printed native-access warnings (" + restricted
          + " JVMs warned, only the application's own may):\n" + run.report());
      assertTrue(run.linesStartingWith("WARNING:").stream().noneMatch(l -> l.contains("sun.misc.Unsafe")),
          () -> "a JVM printed sun.misc.Unsafe warnings:\n" + run.report());
    }, java25.toString(), "--sun-misc-unsafe-memory-access=allow", "-p", mods.toString(),
        "-m", "app/" + ConsumerApps.MAIN_CLASS, "grpc");
  }

  /** Runs the application, checks it worked, prints a one-line summary. */
  private static void launch(String scenario, String... command) {
    launch(scenario, run -> { }, command);
  }

  /** Runs the application, checks it worked and passes {@code moreChecks}, prints a one-line summary. */
  private static void launch(String scenario, Consumer<AppRun> moreChecks, String... command) {
    AppRun run = AppRun.run(scenario, work, List.of(command));
    try {
      assertWorked(run);
      moreChecks.accept(run);
      System.out.println("launch[" + scenario + "]: ok in " + run.seconds());
    } catch (AssertionError e) {
      System.out.println("launch[" + scenario + "]: FAILED in " + run.seconds() + " ("
          + (run.exitCode() == -1 ? "timed out" : "exit " + run.exitCode())
          + (run.leaked().isEmpty() ? "" : ", " + run.leaked().size() + " processes left behind") + ")");
      throw e;
    }
  }

  private static void assertWorked(AppRun run) {
    assertEquals(0, run.exitCode(), () -> "the application failed\n" + run.report());
    assertTrue(run.leaked().isEmpty(), () -> "the application left processes behind\n" + run.report());
    Matcher result = RESULT.matcher(run.stdout());
    assertTrue(result.find(), () -> "no RESULT line on stdout\n" + run.report());
    long app = Long.parseLong(result.group(1));
    long apply = Long.parseLong(result.group(2));
    TreeSet<Long> workers = pids(result.group(5));
    TreeSet<Long> pool = pids(result.group(6));
    assertEquals(run.pid(), app, () -> "the application ran in another process than the one launched\n"
        + run.report());
    assertEquals(SUM_OF_SQUARES, Long.parseLong(result.group(3)), () -> "map result\n" + run.report());
    assertEquals("sq121,sq144", result.group(4), () -> "items from the workers via the queue\n" + run.report());
    assertEquals(2, workers.size(), () -> "two tasks that wait for each other ran on " + workers
        + ", expected two distinct workers\n" + run.report());
    assertTrue(!workers.contains(app), () -> "a task ran in the application's own JVM (pid " + app
        + "), not in a worker\n" + run.report());
    assertNotEquals(app, apply, () -> "apply ran in the application's own JVM\n" + run.report());
    assertTrue(workers.contains(apply), () -> "apply ran in " + apply + ", not one of the pool's workers "
        + workers + "\n" + run.report());
    assertEquals(workers, pool, () -> "ProcessPool.workerPids()\n" + run.report());
    assertWorkersGone(run, workers);
  }

  /**
   * The worker pids the application printed are not running any more. On Linux {@link AppRun} has
   * already checked every process the application started; this also covers systems without
   * {@code /proc}.
   */
  private static void assertWorkersGone(AppRun run, TreeSet<Long> workers) {
    long deadline = System.nanoTime() + AppRun.EXIT_GRACE.toNanos();
    List<Long> alive = running(workers);
    while (!alive.isEmpty() && System.nanoTime() < deadline) {
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(50));
      alive = running(workers);
    }
    if (!alive.isEmpty()) {
      alive.forEach(pid -> ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly));
      fail("workers " + alive + " still ran " + AppRun.EXIT_GRACE.toSeconds() + " s after the application exited"
          + " (killed)\n" + run.report());
    }
  }

  private static List<Long> running(TreeSet<Long> pids) {
    return pids.stream().filter(AppRun::isRunning).toList();
  }

  private static void assertNoWarnings(AppRun run) {
    List<String> warnings = run.linesStartingWith("WARNING:");
    assertTrue(warnings.isEmpty(), () -> "the application or its workers printed JVM warnings:"
        + warnings.stream().collect(Collectors.joining("\n  ", "\n  ", "\n")) + run.report());
  }

  /** {@code jar} is an executable jar started by {@code launcher}, nesting procpool. */
  private static void assertBootJar(Path jar, String launcher) {
    Attributes manifest = ConsumerApps.mainAttributes(jar);
    assertEquals(launcher, manifest.getValue(Attributes.Name.MAIN_CLASS), "Main-Class of " + jar);
    assertEquals(ConsumerApps.MAIN_CLASS, manifest.getValue("Start-Class"), "Start-Class of " + jar);
    assertTrue(ConsumerApps.hasEntry(jar, classFile(launcher)), launcher + " in " + jar);
    Path poolCore = apps.artifacts().jar(Artifacts.Artifact.POOL_CORE).getFileName();
    assertTrue(ConsumerApps.hasEntry(jar, "BOOT-INF/lib/" + poolCore), poolCore + " nested in " + jar);
  }

  private static String classFile(String className) {
    return className.replace('.', '/') + ".class";
  }

  private static TreeSet<Long> pids(String list) {
    TreeSet<Long> pids = new TreeSet<>();
    Arrays.stream(list.split(",")).filter(s -> !s.isEmpty()).map(Long::valueOf).forEach(pids::add);
    return pids;
  }

  private static String java() {
    return Path.of(System.getProperty("java.home"), "bin", "java").toString();
  }

  /** The {@code java} of a JDK 25 ({@code PROCPOOL_JDK25_HOME}, else {@link #DEFAULT_JDK25}); skips if none. */
  private static Path jdk25Java(String scenario) {
    String configured = System.getenv("PROCPOOL_JDK25_HOME");
    Path home = configured != null && !configured.isBlank() ? Path.of(configured) : DEFAULT_JDK25;
    Path java = home.resolve("bin").resolve("java");
    if (!Files.isExecutable(java)) {
      System.out.println("launch[" + scenario + "]: skipped, no JDK 25 at " + home);
    }
    assumeTrue(Files.isExecutable(java), () -> "no JDK 25 at " + home + " (set PROCPOOL_JDK25_HOME)");
    return java;
  }
}
