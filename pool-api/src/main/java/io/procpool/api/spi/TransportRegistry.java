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
    TransportProvider best =
        all.stream()
            .filter(p -> p.name().equals(name))
            .max(Comparator.comparingInt(TransportProvider::priority))
            .orElse(null);
    if (best != null) {
      return best;
    }
    TreeSet<String> names = new TreeSet<>();
    all.forEach(p -> names.add(p.name()));
    StringBuilder msg = new StringBuilder("unknown transport '").append(name).append("'; transports found: ")
        .append(names.isEmpty() ? "none" : String.join(", ", names)).append('.');
    String artifact = artifactFor(name);
    if (artifact != null) {
      msg.append(" Add the artifact ").append(artifact).append(" to the classpath to use '").append(name).append("'.");
    }
    throw new IllegalArgumentException(msg.toString());
  }

  /** The names of every available transport, sorted. */
  public static List<String> names() {
    TreeSet<String> names = new TreeSet<>();
    loadAll().forEach(p -> names.add(p.name()));
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

  private static List<TransportProvider> loadAll() {
    List<TransportProvider> result = new ArrayList<>();
    Iterator<TransportProvider> it = ServiceLoader.load(TransportProvider.class, loader()).iterator();
    while (true) {
      try {
        if (!it.hasNext()) {
          break;
        }
        TransportProvider p = it.next();
        if (p.isAvailable()) {
          result.add(p);
        }
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
