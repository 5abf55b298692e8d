/**
 * The procpool contract test suite and its JUnit helpers: a transport is done when a subclass of
 * {@link io.procpool.testkit.AbstractPoolContractTest} for it passes.
 *
 * <p>Null policy: parameters are non-null unless documented otherwise.
 */
package io.procpool.testkit;
