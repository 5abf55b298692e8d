/**
 * The procpool contract test suites and their JUnit helpers. A transport is done when its subclasses
 * of these suites pass:
 *
 * <ul>
 *   <li>{@link io.procpool.testkit.AbstractConnectionContractTest}: the connection SPI
 *       ({@code Connection}, {@code TransportServer}, {@code TransportProvider}) with no pool;
 *   <li>{@link io.procpool.testkit.AbstractPoolContractTest} and
 *       {@link io.procpool.testkit.AbstractSchedulingContractTest}: a pool of real workers (scheduling,
 *       prompt results, memory per worker, what {@code close()} completes, worker replacement);
 *   <li>{@link io.procpool.testkit.AbstractManagedQueueContractTest}: managed queues and the manager
 *       process over the transport (needs {@code io.procpool:manager-queue} on the test classpath; the
 *       few tests that look inside the manager use a {@link io.procpool.testkit.ManagerProbe}).
 * </ul>
 *
 * <p>Null policy: parameters are non-null unless documented otherwise.
 */
package io.procpool.testkit;
