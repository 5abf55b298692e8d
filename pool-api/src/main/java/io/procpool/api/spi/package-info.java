/**
 * Service provider interfaces for extenders: {@link io.procpool.api.spi.TransportProvider} (how the
 * parent and its workers exchange messages), {@link io.procpool.api.spi.Codec} (how values become
 * bytes) and {@link io.procpool.api.spi.PoolFactory} (the pool implementation, found in pool-core).
 * Implementations are discovered with {@link java.util.ServiceLoader}.
 *
 * <p>Null policy: parameters and return values are non-null unless documented otherwise.
 */
package io.procpool.api.spi;
