/**
 * The procpool transport {@code "grpc"} (grpc-java over shaded Netty, optionally TLS), provided to
 * {@link java.util.ServiceLoader} as an {@link io.procpool.api.spi.TransportProvider}. Only
 * {@link io.procpool.ipc.grpc.GrpcTransportProvider} (for its property names) is public.
 *
 * <p>gRPC, protobuf and shaded Netty have no module descriptors; they are used as automatic modules
 * under the names their manifests declare.
 */
module io.procpool.ipc.grpc {
  requires transitive io.procpool.api;
  requires io.grpc;
  requires io.grpc.stub;
  requires io.grpc.protobuf;
  requires io.grpc.netty.shaded;
  requires com.google.protobuf;
  // sun.misc.Unsafe for shaded Netty: an automatic module reads only modules that are resolved, and
  // without this nothing resolves jdk.unsupported in an application started with -m, so Netty
  // falls back to slower buffers and says so on every JVM's stderr.
  requires jdk.unsupported;

  exports io.procpool.ipc.grpc;
  // Generated messages: protobuf's runtime reflects into them (accessor tables, default instances).
  opens io.procpool.ipc.grpc.internal.proto to com.google.protobuf;

  provides io.procpool.api.spi.TransportProvider with io.procpool.ipc.grpc.GrpcTransportProvider;
}
