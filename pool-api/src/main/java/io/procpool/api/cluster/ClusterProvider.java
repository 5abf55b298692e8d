package io.procpool.api.cluster;

import java.util.Map;

/**
 * Makes {@link Cluster}s of one engine from properties, so that a cluster can be chosen by name and
 * configured from a file ({@link ClusterRegistry#create}). Found with {@link java.util.ServiceLoader}:
 * list the implementation in {@code META-INF/services/io.procpool.api.cluster.ClusterProvider} and,
 * on the module path, {@code provides io.procpool.api.cluster.ClusterProvider with ...}.
 */
public interface ClusterProvider {

  /** The engine's name, e.g. {@code "slurm"}. */
  String name();

  /**
   * A cluster configured by {@code properties} (the keys are the engine's own; unknown keys are an
   * error).
   *
   * @throws IllegalArgumentException if a property is unknown or its value invalid
   */
  Cluster create(Map<String, String> properties);
}
