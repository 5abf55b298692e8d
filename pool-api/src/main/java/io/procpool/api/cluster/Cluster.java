package io.procpool.api.cluster;

import java.io.IOException;

/**
 * A cluster engine that places pool workers on other machines, such as Slurm
 * ({@code io.procpool.cluster.slurm.SlurmCluster} in the {@code cluster-slurm} module).
 *
 * <p>A pool given a cluster ({@code ProcessPool.builder().cluster(cluster).clusterWorkers(n)}) opens one
 * {@link ClusterSession} for its whole life; the session asks the engine for workers, learns their
 * state from the engine, cancels them, and cleans up. procpool never places workers itself: starting,
 * queueing and killing jobs is the engine's job.
 *
 * <p>Implementations are immutable and thread-safe, and one instance may serve several pools.
 * Implementations for other engines are found by name through {@link ClusterProvider}.
 */
public interface Cluster {

  /** The engine's short name, for messages: e.g. {@code "slurm"}. */
  String name();

  /**
   * Opens a session for one pool. Called once, while the pool is built, before any worker is asked
   * for; a failure here fails the build with this exception's message.
   *
   * @param command how a worker of this pool is started and what it must be handed
   * @throws IOException if the engine cannot be reached or the staging directory cannot be prepared
   */
  ClusterSession open(WorkerCommand command) throws IOException;
}
