/**
 * JMH benchmarks of {@link io.procpool.api.ProcessPool}, one class per workload, each parameterised by
 * transport; run them from {@code benchmarks/target/benchmarks.jar}. Nothing here accepts nulls.
 */
package io.procpool.benchmarks;
