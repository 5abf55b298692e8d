package io.procpool.core.internal.process;

import java.io.File;
import java.lang.management.ManagementFactory;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * The launch plan for a child JVM when procpool runs as named modules in the boot layer: the
 * application was started with {@code java -p MODULES -m app/app.Main} (or with procpool's jars on
 * the module path beside a classpath, or linked into a runtime image with {@code jlink}).
 *
 * <p>The child is started with the same module graph: the same module path (and upgrade module path
 * and class path, if any), the modules this JVM resolved from them as roots ({@code --add-modules}, see
 * {@link #roots}), so that the application's module (whose classes the tasks are) and the transport
 * providers resolve even though nothing the child's main module requires names them, and the module
 * options this JVM was started with that change what code may access ({@code --add-exports},
 * {@code --add-opens}, {@code --add-reads}, {@code --patch-module}, {@code --limit-modules},
 * {@code --enable-native-access}): the tasks run there the same code as here. The main class is
 * started as {@code -m module/class}.
 *
 * <p>Not applicable (null) when procpool's classes are in the unnamed module (the classpath plans
 * apply) or in a module layer the application created: a command line can only describe the boot
 * layer.
 */
final class ModulePathLaunch {
  /** Options of this JVM that are passed to the child as they are; each takes one value. */
  private static final List<String> PASSED_ON = List.of("--upgrade-module-path", "--limit-modules",
      "--add-exports", "--add-opens", "--add-reads", "--patch-module", "--enable-native-access");

  private ModulePathLaunch() {}

  /**
   * The java command-line arguments that come after procpool's JVM options and before the child's
   * program arguments, to run mainClass in a child JVM resolved like this JVM's module graph; null when
   * procpool is not a named module in the boot layer (then the classpath plans apply).
   *
   * @param mainClass the child's main class, in a named module of procpool
   *     ({@code io.procpool.core.WorkerMain}, {@code io.procpool.manager.ManagerMain})
   * @param userJvmOptions the user's JVM options for the child, placed before these arguments: where
   *     they set the module path, class path, upgrade module path, limited modules or a module's patch
   *     themselves, this JVM's value is not added (the user's wins)
   */
  static List<String> arguments(Class<?> mainClass, List<String> userJvmOptions) {
    if (unavailableReason(mainClass) != null) {
      return null;
    }
    List<String> parentArguments = ManagementFactory.getRuntimeMXBean().getInputArguments();
    Set<String> fromPaths = new TreeSet<>();
    ModuleLayer.boot().configuration().modules().forEach(m -> {
      if (!m.reference().location().map(u -> "jrt".equals(u.getScheme())).orElse(false)) {
        fromPaths.add(m.name());
      }
    });
    return arguments(mainClass.getModule().getName(), mainClass.getName(),
        roots(fromPaths, System.getProperty("jdk.module.main"), parentArguments),
        System.getProperty("jdk.module.path"), System.getProperty("java.class.path"), parentArguments,
        userJvmOptions);
  }

  /**
   * The root modules that make a child resolve this JVM's boot layer: every module this JVM found on
   * its module paths (the application's, libraries, the transports: the child's main module does not
   * require them), this JVM's main module (in a runtime image it is not on a path), the modules it was
   * told to add, and, when its main class came from the classpath, the default root modules that such
   * an application gets (the JDK's API modules). Modules of the runtime image reached by
   * {@code requires} or service binding need not be named: the child reaches them the same way.
   *
   * @param onPaths the boot layer's modules that were found on the module path or upgrade module path
   * @param mainModule this JVM's main module ({@code jdk.module.main}), null if it ran a class from the
   *     classpath
   * @param parentArguments this JVM's input arguments
   */
  static Set<String> roots(Collection<String> onPaths, String mainModule, List<String> parentArguments) {
    Set<String> roots = new TreeSet<>(onPaths);
    roots.add(mainModule != null ? mainModule : "ALL-DEFAULT");
    for (String[] option : options(parentArguments, List.of("--add-modules"))) {
      for (String m : option[1].split(",")) {
        if (!m.isEmpty()) {
          roots.add(m);
        }
      }
    }
    return roots;
  }

  /**
   * Why {@link #arguments} does not apply to mainClass, or null when it does: procpool is on the
   * classpath, or in a module layer that is not the boot layer.
   */
  static String unavailableReason(Class<?> mainClass) {
    for (Module m : List.of(mainClass.getModule(), ModulePathLaunch.class.getModule())) {
      if (!m.isNamed()) {
        return "procpool runs from the classpath (" + m + ")";
      }
      if (m.getLayer() != ModuleLayer.boot()) {
        return "procpool's module " + m.getName() + " is in a module layer created by the application, not"
            + " the boot layer, and a child JVM's command line can only rebuild the boot layer";
      }
    }
    return null;
  }

  /**
   * A one-line description for error messages, e.g.
   * {@code "the module path (jdk.module.path=/app/mods), main module app"}.
   */
  static String describe() {
    String reason = unavailableReason(ModulePathLaunch.class);
    if (reason != null) {
      return reason;
    }
    String modulePath = System.getProperty("jdk.module.path");
    String main = System.getProperty("jdk.module.main");
    String classPath = System.getProperty("java.class.path", "");
    StringBuilder s = new StringBuilder();
    if (modulePath == null || modulePath.isEmpty()) {
      s.append("procpool's modules linked into the runtime image ").append(System.getProperty("java.home"));
    } else {
      s.append("the module path (jdk.module.path=").append(modulePath).append(')');
    }
    if (main != null) {
      s.append(", main module ").append(main);
    } else {
      s.append(", main class from the classpath (java.class.path=").append(classPath).append(')');
    }
    return s.toString();
  }

  /**
   * The arguments for the given state of this JVM; {@link #arguments(Class, List)} with every input
   * explicit.
   *
   * @param module the main class's module
   * @param mainClass the main class's name
   * @param roots the modules to resolve as roots ({@link #roots})
   * @param modulePath {@code jdk.module.path}, null or empty if none
   * @param classPath {@code java.class.path}, null or empty if none
   * @param parentArguments this JVM's input arguments (as {@code RuntimeMXBean.getInputArguments()})
   * @param userJvmOptions the user's JVM options for the child
   */
  static List<String> arguments(String module, String mainClass, Collection<String> roots, String modulePath,
      String classPath, List<String> parentArguments, List<String> userJvmOptions) {
    List<String> args = new ArrayList<>();
    List<String[]> passed = passedOn(parentArguments);
    for (String[] option : passed) {
      if (option[0].equals("--upgrade-module-path") && !sets(userJvmOptions, "--upgrade-module-path")) {
        args.add(option[0]);
        args.add(absolute(option[1]));
      }
    }
    if (modulePath != null && !modulePath.isEmpty() && !sets(userJvmOptions, "-p", "--module-path")) {
      args.add("-p");
      args.add(absolute(modulePath));
    }
    if (classPath != null && !classPath.isEmpty() && !sets(userJvmOptions, "-cp", "-classpath", "--class-path")) {
      args.add("-cp");
      args.add(absolute(classPath));
    }
    Set<String> addModules = new TreeSet<>(roots);
    addModules.remove("java.base");
    addModules.remove(module); // the main module is a root anyway
    if (!addModules.isEmpty()) {
      args.add("--add-modules");
      args.add(String.join(",", addModules));
    }
    Set<String> userPatched = patchedModules(userJvmOptions);
    for (String[] option : passed) {
      switch (option[0]) {
        case "--upgrade-module-path":
          break; // above
        case "--limit-modules":
          if (!sets(userJvmOptions, "--limit-modules")) {
            args.add(option[0]);
            args.add(option[1]);
          }
          break;
        case "--patch-module":
          // A module may be patched once: the user's own patch of it wins.
          if (!userPatched.contains(patchedModule(option[1]))) {
            int eq = option[1].indexOf('=');
            args.add(option[0]);
            args.add(eq < 0 ? option[1] : option[1].substring(0, eq + 1) + absolute(option[1].substring(eq + 1)));
          }
          break;
        default:
          args.add(option[0]);
          args.add(option[1]);
      }
    }
    args.add("-m");
    args.add(module + "/" + mainClass);
    return args;
  }

  /** The options of {@link #PASSED_ON} in the arguments, as {name, value}, in their order. */
  private static List<String[]> passedOn(List<String> arguments) {
    return options(arguments, PASSED_ON);
  }

  /** The named options in the arguments, as {name, value}, in their order. */
  private static List<String[]> options(List<String> arguments, List<String> names) {
    List<String[]> result = new ArrayList<>();
    for (int i = 0; i < arguments.size(); i++) {
      String a = arguments.get(i);
      for (String name : names) {
        if (a.startsWith(name + "=")) {
          result.add(new String[] {name, a.substring(name.length() + 1)});
        } else if (a.equals(name) && i + 1 < arguments.size()) {
          result.add(new String[] {name, arguments.get(++i)});
        }
      }
    }
    return result;
  }

  /** Whether the options set one of the named options (as {@code name value} or {@code name=value}). */
  private static boolean sets(List<String> options, String... names) {
    for (String o : options) {
      for (String name : names) {
        if (o.equals(name) || o.startsWith(name + "=")) {
          return true;
        }
      }
    }
    return false;
  }

  private static Set<String> patchedModules(List<String> options) {
    Set<String> modules = new TreeSet<>();
    for (String[] option : passedOn(options)) {
      if (option[0].equals("--patch-module")) {
        modules.add(patchedModule(option[1]));
      }
    }
    return modules;
  }

  private static String patchedModule(String value) {
    int eq = value.indexOf('=');
    return eq < 0 ? value : value.substring(0, eq);
  }

  /**
   * The path list with each entry made absolute: the child may be started in another working
   * directory than the one this JVM resolved its relative entries against.
   */
  static String absolute(String pathList) {
    List<String> entries = new ArrayList<>();
    for (String e : pathList.split(File.pathSeparator, -1)) {
      if (e.isEmpty()) {
        continue;
      }
      try {
        entries.add(Path.of(e).toAbsolutePath().toString());
      } catch (InvalidPathException ex) {
        entries.add(e);
      }
    }
    return String.join(File.pathSeparator, entries);
  }
}
