package io.procpool.cluster.slurm;

/** Placeholder: the helper "slurm" writes it. */
public final class SlurmCluster {
  private SlurmCluster() {}
}
