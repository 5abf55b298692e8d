/**
 * Binds a {@link io.procpool.api.ProcessPool}'s statistics to a Micrometer registry; see
 * {@link io.procpool.micrometer.ProcessPoolMetrics}. Arguments are never {@code null}.
 */
package io.procpool.micrometer;
