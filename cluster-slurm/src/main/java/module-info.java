/**
 * Pool workers placed by Slurm: {@link io.procpool.cluster.slurm.SlurmCluster}, given to
 * {@code ProcessPool.builder().cluster(...)}.
 */
module io.procpool.cluster.slurm {
  requires transitive io.procpool.api;

  exports io.procpool.cluster.slurm;
}
