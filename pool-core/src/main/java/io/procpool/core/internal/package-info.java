/**
 * Internal implementation of pool-core: the scheduler, the worker runtime and the worker protocol
 * between them, and the payload code the manager module shares ({@link io.procpool.core.internal.Items},
 * {@link io.procpool.core.internal.SerialFilters}). Not API: anything here may change in any release;
 * what is public here is so for procpool's own modules only.
 */
package io.procpool.core.internal;
