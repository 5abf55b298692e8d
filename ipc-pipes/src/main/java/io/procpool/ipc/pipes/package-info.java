/**
 * The default procpool transport, {@code "pipes"}: length-prefixed binary frames over an
 * authenticated UNIX-domain socket; only {@link io.procpool.ipc.pipes.PipesTransportProvider} is
 * public, everything else is reached through the {@code io.procpool.api.spi} interfaces.
 *
 * <p>Null policy: parameters and return values are non-null unless documented otherwise.
 */
package io.procpool.ipc.pipes;
