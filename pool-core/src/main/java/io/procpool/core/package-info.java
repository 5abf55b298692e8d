/**
 * The procpool implementation: the pool factory found by {@code ProcessPool.builder()}, the worker
 * entry point {@link io.procpool.core.WorkerMain}, the default codec and the in-JVM {@code "threads"}
 * transport. Types in {@code io.procpool.core.internal} are not API.
 *
 * <p>Null policy: parameters are non-null unless documented otherwise.
 */
package io.procpool.core;
