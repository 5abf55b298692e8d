/**
 * The procpool implementation: the pool factory behind {@code ProcessPool.builder()}, the worker main
 * class {@link io.procpool.core.WorkerMain}, the default codec ({@code "java"}) and the in-JVM
 * {@code "threads"} transport. The {@code internal} packages are for procpool's own modules only.
 */
module io.procpool.core {
  requires transitive io.procpool.api;
  requires com.google.common;
  // Workers forward java.util.logging records to the parent (LogForwardingHandler).
  requires java.logging;
  // RuntimeMXBean: the module options a child JVM on the module path inherits.
  requires java.management;
  requires jdk.jfr;
  // sun.misc.Signal: a cluster worker retires on the engine's SIGUSR1 before its walltime.
  requires jdk.unsupported;
  // @GuardedBy (class retention): needed to compile, not at run time.
  requires static com.google.errorprone.annotations;

  exports io.procpool.core;
  exports io.procpool.core.internal to io.procpool.manager;
  exports io.procpool.core.internal.process to io.procpool.manager;

  provides io.procpool.api.spi.PoolFactory with io.procpool.core.DefaultPoolFactory;
  provides io.procpool.api.spi.TransportProvider with io.procpool.core.ThreadsTransportProvider;
  provides io.procpool.api.spi.Codec with io.procpool.core.JavaSerializationCodec;
}
