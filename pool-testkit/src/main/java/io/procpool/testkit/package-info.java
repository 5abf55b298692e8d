/**
 * The procpool contract test suite and its JUnit helpers: a transport is done when a subclass of
 * {@link io.procpool.testkit.AbstractPoolContractTest} for it passes, and a subclass of
 * {@link io.procpool.testkit.AbstractSchedulingContractTest} (scheduling, prompt results, memory
 * per worker, what {@code close()} completes, worker replacement) too.
 *
 * <p>Null policy: parameters are non-null unless documented otherwise.
 */
package io.procpool.testkit;
