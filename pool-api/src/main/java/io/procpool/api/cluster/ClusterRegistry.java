package io.procpool.api.cluster;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.TreeSet;

/** Finds {@link ClusterProvider}s by name. */
public final class ClusterRegistry {
  private ClusterRegistry() {}

  /**
   * A cluster of the engine {@code name}, configured by {@code properties}.
   *
   * @throws IllegalArgumentException if no provider has that name (the message lists those found and
   *     the artifact of the well-known ones), or the provider rejects the properties
   */
  public static Cluster create(String name, Map<String, String> properties) {
    for (ClusterProvider p : load()) {
      if (p.name().equals(name)) {
        return p.create(properties);
      }
    }
    List<String> found = names();
    throw new IllegalArgumentException("unknown cluster engine '" + name + "'; engines found: "
        + (found.isEmpty() ? "none" : String.join(", ", found)) + "."
        + ("slurm".equals(name) ? " Add the artifact io.procpool:cluster-slurm to the classpath to use 'slurm'." : ""));
  }

  /** The names of the engines found, sorted. */
  public static List<String> names() {
    TreeSet<String> names = new TreeSet<>();
    load().forEach(p -> names.add(p.name()));
    return new ArrayList<>(names);
  }

  private static List<ClusterProvider> load() {
    List<ClusterProvider> all = new ArrayList<>();
    ServiceLoader.load(ClusterProvider.class, ClusterRegistry.class.getClassLoader()).forEach(all::add);
    ClassLoader context = Thread.currentThread().getContextClassLoader();
    if (context != null && context != ClusterRegistry.class.getClassLoader()) {
      ServiceLoader.load(ClusterProvider.class, context).forEach(p -> {
        if (all.stream().noneMatch(q -> q.getClass() == p.getClass())) {
          all.add(p);
        }
      });
    }
    return all;
  }
}
