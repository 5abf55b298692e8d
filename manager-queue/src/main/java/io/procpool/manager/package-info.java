/**
 * The manager process of procpool (Python's {@code multiprocessing.Manager()}): its main class and
 * the {@link java.util.ServiceLoader} entry point behind {@link io.procpool.api.Manager}. Parameters
 * and results are non-null unless documented.
 */
package io.procpool.manager;
