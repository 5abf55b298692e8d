/**
 * Micrometer meters for a procpool {@link io.procpool.api.ProcessPool}:
 * {@link io.procpool.micrometer.ProcessPoolMetrics}, a {@code MeterBinder}.
 *
 * <p>micrometer-core has no module descriptor; it is used as the automatic module its manifest names,
 * {@code micrometer.core}.
 */
module io.procpool.micrometer {
  requires transitive io.procpool.api;
  requires transitive micrometer.core;

  exports io.procpool.micrometer;
}
