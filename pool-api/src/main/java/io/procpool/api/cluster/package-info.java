/**
 * The cluster service-provider interface: {@link io.procpool.api.cluster.Cluster} places pool workers
 * on other machines through an existing cluster engine (Slurm in {@code cluster-slurm}), and
 * {@link io.procpool.api.cluster.ClusterSession} is one pool's use of it. Implement these to support
 * another engine; users only create a cluster (e.g. {@code SlurmCluster.builder()...build()}) and pass it
 * to {@code ProcessPool.builder().cluster(...)}.
 */
package io.procpool.api.cluster;
