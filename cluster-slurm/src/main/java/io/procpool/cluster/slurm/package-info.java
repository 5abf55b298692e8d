/** Pool workers placed by Slurm: {@link io.procpool.cluster.slurm.SlurmCluster}. */
package io.procpool.cluster.slurm;
