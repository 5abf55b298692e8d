package io.procpool.api.spi;

import java.util.ArrayList;
import java.util.Comparator;
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
    List<TransportProvider> all = loadAll();
    // Ask only the providers of that name whether they are available: isAvailable() may load a
    // transport's classes, which a worker of another transport should not pay for at start-up.
    TransportProvider best =
        all.stream()
            .filter(p -> p.name().equals(name) && p.isAvailable())
            .max(Comparator.comparingInt(TransportProvider::priority))
            .orElse(null);
    if (best != null) {
      return best;
    }
    TreeSet<String> names = new TreeSet<>();
    all.stream().filter(TransportProvider::isAvailable).forEach(p -> names.add(p.name()));
    StringBuilder msg = new StringBuilder("unknown transport '").append(name).append("'; transports found: ")
        .append(names.isEmpty() ? "none" : String.join(", ", names)).append('.');
    String unregistered = unregistered(TransportProvider.class, providerClassFor(name));
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
   * When {@code implementation} can be loaded but the service loader did not list it: the message
   * that says so and how to fix the packaging (typically a fat jar whose {@code META-INF/services}
   * files overwrote each other instead of being merged); otherwise null.
   */
  static String unregistered(Class<?> service, String implementation) {
    if (implementation == null) {
      return null;
    }
    try {
      Class.forName(implementation, false, loader());
    } catch (ClassNotFoundException | LinkageError e) {
      return null;
    }
    return "The class " + implementation + " is present, but no META-INF/services/" + service.getName()
        + " file lists it: the application was probably packaged into one jar without merging service"
        + " files, so one jar's file replaced the others'. Merge them: maven-shade-plugin's"
        + " org.apache.maven.plugins.shade.resource.ServicesResourceTransformer, Gradle shadow's"
        + " mergeServiceFiles(), or maven-assembly-plugin's metaInf-services container descriptor handler.";
  }

  /** Every provider on the classpath, available or not. */
  private static List<TransportProvider> loadAll() {
    List<TransportProvider> result = new ArrayList<>();
    Iterator<TransportProvider> it = ServiceLoader.load(TransportProvider.class, loader()).iterator();
    while (true) {
      try {
        if (!it.hasNext()) {
          break;
        }
        result.add(it.next());
      } catch (ServiceConfigurationError e) {
        // A broken provider must not hide the others: skip it.
      }
    }
    return result;
  }

  static ClassLoader loader() {
    ClassLoader cl = Thread.currentThread().getContextClassLoader();
    return cl != null ? cl : TransportRegistry.class.getClassLoader();
  }
}
