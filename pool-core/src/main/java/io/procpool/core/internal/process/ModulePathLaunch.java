package io.procpool.core.internal.process;

import java.util.List;

/** Child JVMs on the module path: placeholder until procpool's jars are named modules. */
final class ModulePathLaunch {
  private ModulePathLaunch() {}

  /** Whether procpool runs as a named module of the boot layer. */
  static boolean applies() {
    return false;
  }

  static List<String> arguments(Class<?> mainClass, List<String> userJvmOptions) {
    throw new UnsupportedOperationException("not on the module path");
  }

  static String describe() {
    return "the module path";
  }
}
