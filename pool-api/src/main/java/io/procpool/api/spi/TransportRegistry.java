package io.procpool.api.spi;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;
import java.util.TreeSet;

/** Finds {@link TransportProvider}s on the classpath by name. */
public final class TransportRegistry {
  private TransportRegistry() {}

  /**
   * The available provider named {@code name} with the highest priority.
   *
   * @throws IllegalArgumentException if there is none; the message lists the transports found and
   *     the artifact that provides the well-known ones
   */
  public static TransportProvider get(String name) {
    List<ServiceConfigurationError> errors = new ArrayList<>();
    List<TransportProvider> all = load(TransportProvider.class, errors);
    // Ask only the providers of that name whether they are available: isAvailable() may load a
    // transport's classes, which a worker of another transport should not pay for at start-up.
    // A plain loop, no stream or lambda: this runs on every worker's start path, where a cold JVM
    // pays for spinning each lambda class (Comparator's is not in a class-data archive).
    TransportProvider best = null;
    for (TransportProvider p : all) {
      if (p.name().equals(name) && p.isAvailable() && (best == null || p.priority() > best.priority())) {
        best = p;
      }
    }
    if (best != null) {
      return best;
    }
    TreeSet<String> names = new TreeSet<>();
    all.stream().filter(TransportProvider::isAvailable).forEach(p -> names.add(p.name()));
    StringBuilder msg = new StringBuilder("unknown transport '").append(name).append("'; transports found: ")
        .append(names.isEmpty() ? "none" : String.join(", ", names)).append('.');
    String unregistered = unregistered(TransportProvider.class, providerClassFor(name), errors);
    String artifact = artifactFor(name);
    if (unregistered != null) {
      msg.append(' ').append(unregistered);
    } else if (artifact != null) {
      msg.append(" Add the artifact ").append(artifact).append(" to the classpath to use '").append(name).append("'.");
    }
    throw new IllegalArgumentException(msg.toString());
  }

  /** The names of every available transport, sorted. */
  public static List<String> names() {
    TreeSet<String> names = new TreeSet<>();
    loadAll().stream().filter(TransportProvider::isAvailable).forEach(p -> names.add(p.name()));
    return new ArrayList<>(names);
  }

  private static String artifactFor(String name) {
    switch (name) {
      case "pipes": return "io.procpool:ipc-pipes";
      case "grpc": return "io.procpool:ipc-grpc";
      case "threads": return "io.procpool:pool-core";
      default: return null;
    }
  }

  private static String providerClassFor(String name) {
    switch (name) {
      case "pipes": return "io.procpool.ipc.pipes.PipesTransportProvider";
      case "grpc": return "io.procpool.ipc.grpc.GrpcTransportProvider";
      case "threads": return "io.procpool.core.ThreadsTransportProvider";
      default: return null;
    }
  }

  /**
   * Why the service loader did not return {@code implementation} although its class is present: it is
   * listed but failed to load (a missing dependency: the error is named), or no
   * {@code META-INF/services} file lists it (typically a fat jar whose service files replaced each
   * other instead of being merged: the fix is named). Null when the class is absent.
   *
   * @param errors the service loader's errors while looking, may be null
   */
  static String unregistered(Class<?> service, String implementation, List<ServiceConfigurationError> errors) {
    if (implementation == null) {
      return null;
    }
    ClassLoader found = null;
    for (ClassLoader l : loaders()) {
      try {
        Class.forName(implementation, false, l);
        found = l;
        break;
      } catch (ClassNotFoundException | LinkageError e) {
        // not in this one
      }
    }
    if (found == null) {
      return null;
    }
    if (errors != null) {
      for (ServiceConfigurationError e : errors) {
        if (String.valueOf(e.getMessage()).contains(implementation)) {
          Throwable root = e;
          while (root.getCause() != null) {
            root = root.getCause();
          }
          return "The provider " + implementation + " is registered but could not be loaded: " + root
              + " (is one of its dependencies missing from the classpath?)";
        }
      }
    }
    if (listed(found, service, implementation)) {
      return "The provider " + implementation + " is present and registered but could not be loaded"
          + " (is one of its dependencies missing from the classpath?)";
    }
    return "The class " + implementation + " is present, but no META-INF/services/" + service.getName()
        + " file lists it: the application was probably packaged into one jar without merging service"
        + " files, so one jar's file replaced the others'. Merge them: maven-shade-plugin's"
        + " org.apache.maven.plugins.shade.resource.ServicesResourceTransformer, Gradle shadow's"
        + " mergeServiceFiles(), or maven-assembly-plugin's metaInf-services container descriptor handler.";
  }

  /** Whether a {@code META-INF/services} file that {@code loader} sees lists {@code implementation}. */
  private static boolean listed(ClassLoader loader, Class<?> service, String implementation) {
    try {
      java.util.Enumeration<java.net.URL> files = loader.getResources("META-INF/services/" + service.getName());
      while (files.hasMoreElements()) {
        try (java.io.InputStream in = files.nextElement().openStream()) {
          for (String line : new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8).split("\\R")) {
            int hash = line.indexOf('#');
            if ((hash >= 0 ? line.substring(0, hash) : line).trim().equals(implementation)) {
              return true;
            }
          }
        }
      }
    } catch (java.io.IOException | RuntimeException e) {
      // cannot tell: treat as not listed
    }
    return false;
  }

  /** Every provider on the classpath, available or not. */
  private static List<TransportProvider> loadAll() {
    return load(TransportProvider.class, null);
  }

  /**
   * Every provider of {@code service} that the thread's context class loader finds, then those that
   * procpool's own class loader finds (a context loader that cannot see procpool, e.g. the application
   * class loader on a pool thread of a Spring Boot jar or of an application server, must not hide
   * them), one per class. A provider that cannot be loaded is skipped; its error goes to {@code errors}.
   */
  static <S> List<S> load(Class<S> service, List<ServiceConfigurationError> errors) {
    List<S> result = new ArrayList<>();
    java.util.Set<String> seen = new java.util.HashSet<>();
    for (ClassLoader loader : loaders()) {
      Iterator<S> it = ServiceLoader.load(service, loader).iterator();
      while (true) {
        try {
          if (!it.hasNext()) {
            break;
          }
          S provider = it.next();
          if (seen.add(provider.getClass().getName())) {
            result.add(provider);
          }
        } catch (ServiceConfigurationError e) {
          // A broken provider must not hide the others: skip it.
          if (errors != null) {
            errors.add(e);
          }
        }
      }
    }
    return result;
  }

  /** The context class loader (if any), then procpool's own when the context loader does not delegate to it. */
  static List<ClassLoader> loaders() {
    ClassLoader own = TransportRegistry.class.getClassLoader();
    ClassLoader context = Thread.currentThread().getContextClassLoader();
    if (context == null) {
      return List.of(own);
    }
    for (ClassLoader l = context; l != null; l = l.getParent()) {
      if (l == own) {
        return List.of(context);
      }
    }
    return List.of(context, own);
  }

  static ClassLoader loader() {
    ClassLoader cl = Thread.currentThread().getContextClassLoader();
    return cl != null ? cl : TransportRegistry.class.getClassLoader();
  }
}
