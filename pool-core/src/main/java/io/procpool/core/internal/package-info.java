/**
 * Internal implementation of pool-core: the scheduler, the worker runtime and the worker protocol
 * between them. Not API: anything here may change in any release.
 */
package io.procpool.core.internal;
