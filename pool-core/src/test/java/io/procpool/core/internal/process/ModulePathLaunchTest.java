package io.procpool.core.internal.process;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.procpool.core.WorkerMain;
import java.io.File;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ModulePathLaunchTest {
  private static final String MODULES = String.join(File.pathSeparator, "/app/mods", "/app/lib/x.jar");

  @Test
  void onTheClasspathThereIsNoModulePlan() {
    assertNull(ModulePathLaunch.arguments(WorkerMain.class, List.of()));
    String reason = ModulePathLaunch.unavailableReason(WorkerMain.class);
    assertNotNull(reason);
    assertTrue(reason.startsWith("procpool runs from the classpath"), reason);
    assertEquals(reason, ModulePathLaunch.describe());
  }

  @Test
  void rebuildsTheBootLayerAndRunsTheMainClassAsAModule() {
    List<String> args = ModulePathLaunch.arguments("io.procpool.core", "io.procpool.core.WorkerMain",
        List.of("java.base", "io.procpool.core", "io.procpool.api", "app", "java.logging", "io.procpool.ipc.pipes"),
        MODULES, "", List.of("-Xmx1g", "-Djdk.module.main=app", "--module-path=" + MODULES), List.of());
    assertEquals(List.of("-p", MODULES,
        "--add-modules", "app,io.procpool.api,io.procpool.ipc.pipes,java.logging",
        "-m", "io.procpool.core/io.procpool.core.WorkerMain"), args);
  }

  @Test
  void theRootsAreTheModulesFromThePathsTheMainModuleAndTheAddedModules() {
    assertEquals(Set.of("app", "lib", "jdk.incubator.vector", "ALL-MODULE-PATH"),
        ModulePathLaunch.roots(List.of("app", "lib"), "app",
            List.of("--add-modules=jdk.incubator.vector", "--add-modules", "ALL-MODULE-PATH,", "-Xmx1g")));
    // in a runtime image the main module is not on a path
    assertEquals(Set.of("app"), ModulePathLaunch.roots(List.of(), "app", List.of()));
    // a main class from the classpath: the default roots of such an application too
    assertEquals(Set.of("ALL-DEFAULT", "io.procpool.core"),
        ModulePathLaunch.roots(List.of("io.procpool.core"), null, List.of()));
  }

  @Test
  void passesOnTheModuleOptionsOfThisJvmInBothSpellings() {
    List<String> parent = List.of("--add-opens=java.base/java.lang=app", "--add-exports", "java.base/sun.nio.ch=app",
        "--add-reads=app=ALL-UNNAMED", "--enable-native-access=io.grpc.netty.shaded", "--limit-modules=app",
        "--upgrade-module-path=/up", "--patch-module", "app=/patch", "-Xss2m");
    List<String> args = ModulePathLaunch.arguments("io.procpool.manager", "io.procpool.manager.ManagerMain",
        List.of("app", "io.procpool.manager"), MODULES, "/app/cp.jar", parent, List.of());
    assertEquals(List.of("--upgrade-module-path", "/up", "-p", MODULES, "-cp", "/app/cp.jar", "--add-modules", "app",
        "--add-opens", "java.base/java.lang=app", "--add-exports", "java.base/sun.nio.ch=app",
        "--add-reads", "app=ALL-UNNAMED", "--enable-native-access", "io.grpc.netty.shaded", "--limit-modules", "app",
        "--patch-module", "app=/patch", "-m", "io.procpool.manager/io.procpool.manager.ManagerMain"), args);
  }

  @Test
  void theUsersOwnPathsAndPatchesWin() {
    List<String> parent = List.of("--patch-module=app=/patch", "--patch-module=other=/other", "--limit-modules=app");
    List<String> user = List.of("--module-path=/mine", "-cp", "/mine.jar", "--patch-module", "app=/my-patch",
        "--limit-modules", "app,extra");
    List<String> args = ModulePathLaunch.arguments("io.procpool.core", "io.procpool.core.WorkerMain", List.of("app"),
        MODULES, "/app/cp.jar", parent, user);
    assertEquals(List.of("--add-modules", "app", "--patch-module", "other=/other",
        "-m", "io.procpool.core/io.procpool.core.WorkerMain"), args);
  }

  @Test
  void relativeEntriesAreMadeAbsoluteAndEmptyOnesDropped() {
    String cwd = Path.of("").toAbsolutePath().toString();
    assertEquals(cwd + File.separator + "mods" + File.pathSeparator + "/abs/x.jar",
        ModulePathLaunch.absolute("mods" + File.pathSeparator + File.pathSeparator + "/abs/x.jar"));
    List<String> args = ModulePathLaunch.arguments("m", "m.Main", List.of("m"), null, null,
        List.of("--patch-module=m=rel"), List.of());
    assertEquals(List.of("--patch-module", "m=" + cwd + File.separator + "rel", "-m", "m/m.Main"), args);
  }

  /**
   * The real thing: a modular application (module {@code probe}, compiled here) on the module path
   * asks for the arguments of a worker; a JVM started with them resolves {@code probe} and procpool's
   * modules and runs {@code WorkerMain} from module {@code io.procpool.core} (which, given a bad command
   * line, prints its usage and exits with 2).
   */
  @Test
  void aWorkerStartedWithTheArgumentsOfAModularAppRunsOnTheModulePath(@TempDir Path dir) throws Exception {
    String procpool = String.join(File.pathSeparator, location(io.procpool.api.ProcessPool.class),
        location(WorkerMain.class), location(com.google.common.base.Preconditions.class),
        location(com.google.common.util.concurrent.internal.InternalFutureFailureAccess.class));
    Path src = dir.resolve("src");
    Files.createDirectories(src.resolve("probe"));
    Files.writeString(src.resolve("module-info.java"), "module probe { requires io.procpool.core; }");
    Files.writeString(src.resolve("probe/Main.java"), String.join("\n",
        "package probe;",
        "import java.lang.reflect.Method;",
        "import java.util.List;",
        "public final class Main {",
        "  public static void main(String[] a) throws Exception {",
        "    Class<?> plan = Class.forName(\"io.procpool.core.internal.process.ModulePathLaunch\");",
        "    Method arguments = plan.getDeclaredMethod(\"arguments\", Class.class, List.class);",
        "    arguments.setAccessible(true);",
        "    Method describe = plan.getDeclaredMethod(\"describe\");",
        "    describe.setAccessible(true);",
        "    System.out.println(describe.invoke(null));",
        "    for (Object arg : (List<?>) arguments.invoke(null, io.procpool.core.WorkerMain.class, List.of())) {",
        "      System.out.println(arg);",
        "    }",
        "  }",
        "}"));
    JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
    Path out = dir.resolve("probe");
    assertEquals(0, javac.run(null, null, null, "--release", "17", "-d", out.toString(), "--module-path", procpool,
        src.resolve("module-info.java").toString(), src.resolve("probe/Main.java").toString()));

    String modulePath = out + File.pathSeparator + procpool;
    String[] probe = run(List.of("-p", modulePath,
        "--add-opens", "io.procpool.core/io.procpool.core.internal.process=probe", "-m", "probe/probe.Main"));
    assertEquals("0", probe[0], probe[2]);
    List<String> lines = probe[1].lines().toList();
    assertEquals("the module path (jdk.module.path=" + modulePath + "), main module probe", lines.get(0));
    List<String> args = lines.subList(1, lines.size());
    assertEquals(List.of("-p", modulePath), args.subList(0, 2), args.toString());
    assertEquals("--add-modules", args.get(2), args.toString());
    assertTrue(List.of(args.get(3).split(",")).containsAll(List.of("probe", "io.procpool.api", "com.google.common")),
        args.toString());
    assertEquals(List.of("--add-opens", "io.procpool.core/io.procpool.core.internal.process=probe",
        "-m", "io.procpool.core/io.procpool.core.WorkerMain"), args.subList(4, args.size()));

    List<String> worker = new ArrayList<>(args);
    worker.addAll(List.of("--transport", "pipes"));
    String[] r = run(worker);
    assertEquals("2", r[0], r[2]);
    assertTrue(r[2].startsWith("procpool worker: missing option --connect; usage:"), r[2]);
  }

  private static String location(Class<?> c) throws URISyntaxException {
    return Path.of(c.getProtectionDomain().getCodeSource().getLocation().toURI()).toString();
  }

  /** Runs java with the arguments (stdin closed): {exit code, stdout, stderr}. */
  private static String[] run(List<String> args) throws Exception {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.add("-Xshare:auto");
    cmd.add("-XX:TieredStopAtLevel=1");
    cmd.addAll(args);
    Path err = Files.createTempFile("procpool-module-path", ".err");
    Process p = new ProcessBuilder(cmd).redirectError(err.toFile()).start();
    try {
      p.getOutputStream().close();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertTrue(p.waitFor(60, TimeUnit.SECONDS), "java did not exit: " + cmd);
      return new String[] {Integer.toString(p.exitValue()), out, Files.readString(err)};
    } finally {
      p.destroyForcibly();
      p.waitFor(10, TimeUnit.SECONDS);
      Files.deleteIfExists(err);
    }
  }
}
