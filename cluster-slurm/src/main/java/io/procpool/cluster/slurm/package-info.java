/**
 * Pool workers placed by Slurm: {@link io.procpool.cluster.slurm.SlurmCluster} (public, with its
 * builder) and {@link io.procpool.cluster.slurm.SlurmClusterProvider}; everything else is
 * package-private. Nothing here accepts or returns {@code null} unless its javadoc says so.
 */
package io.procpool.cluster.slurm;
