/**
 * The {@code grpc} transport of procpool: the parent and its workers exchange batches of opaque
 * messages over one gRPC bidirectional stream per worker (grpc-java over shaded Netty, optionally
 * TLS). Select it with {@code ProcessPool.builder().transport("grpc")}; the only public type is
 * {@link io.procpool.ipc.grpc.GrpcTransportProvider}, found by {@link java.util.ServiceLoader}.
 *
 * <p>Null policy: parameters and return values are non-null unless documented otherwise.
 */
package io.procpool.ipc.grpc;
