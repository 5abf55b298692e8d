/**
 * Internal: the protobuf messages and gRPC service descriptor of the {@code grpc} transport's wire
 * protocol, generated from {@code procpool_transport.proto}. Public only because generated code is;
 * not an API, may change in any release.
 *
 * <p>Null policy: as protobuf-java's generated code (no nulls accepted by setters).
 */
package io.procpool.ipc.grpc.internal.proto;
