/**
 * Pool workers placed by Slurm: {@link io.procpool.cluster.slurm.SlurmCluster}, given to
 * {@code ProcessPool.builder().cluster(...)}, or by name {@code "slurm"} through
 * {@link io.procpool.cluster.slurm.SlurmClusterProvider}.
 */
module io.procpool.cluster.slurm {
  requires transitive io.procpool.api;

  exports io.procpool.cluster.slurm;

  provides io.procpool.api.cluster.ClusterProvider with io.procpool.cluster.slurm.SlurmClusterProvider;
}
