package io.procpool.ipc.grpc;

import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerServiceDefinition;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.procpool.api.spi.TransportProvider;
import io.procpool.ipc.grpc.internal.proto.Frames;
import io.procpool.ipc.grpc.internal.proto.WorkerChannelGrpc;
import io.procpool.testkit.AbstractConnectionContractTest;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

/** The Connection contract over the grpc transport (plaintext, loopback). */
class GrpcConnectionContractTest extends AbstractConnectionContractTest {

  @Override
  protected TransportProvider provider() {
    return new GrpcTransportProvider();
  }

  /**
   * A gRPC server with procpool's service that does not know the key: it admits every stream,
   * answers with this transport's protocol version and the acceptance ack, and remembers any auth
   * key a client put in its headers.
   */
  @Override
  protected Impostor startImpostor() throws IOException {
    return FakeGrpcServer.start();
  }

  private static final class FakeGrpcServer implements Impostor {
    private final List<byte[]> keysSeen = new CopyOnWriteArrayList<>();
    private Server server;

    static FakeGrpcServer start() throws IOException {
      FakeGrpcServer fake = new FakeGrpcServer();
      ServerCallHandler<Frames, Frames> handler = (call, headers) -> {
        byte[] presented = headers.get(Handshake.AUTH_KEY);
        if (presented != null) {
          fake.keysSeen.add(presented);
        }
        Metadata response = new Metadata();
        response.put(Handshake.VERSION_KEY, Handshake.PROTOCOL_VERSION);
        call.sendHeaders(response);
        call.sendMessage(Frames.getDefaultInstance());
        call.request(Integer.MAX_VALUE);
        return new ServerCall.Listener<>() {};
      };
      ServerServiceDefinition service = ServerServiceDefinition.builder(WorkerChannelGrpc.getServiceDescriptor())
          .addMethod(WorkerChannelGrpc.getOpenMethod(), handler)
          .build();
      fake.server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
          .addService(service)
          .build()
          .start();
      return fake;
    }

    @Override
    public String address() {
      return "127.0.0.1:" + server.getPort();
    }

    @Override
    public boolean sawKey(byte[] authKey) {
      return keysSeen.stream().anyMatch(k -> Arrays.equals(k, authKey));
    }

    @Override
    public void close() {
      server.shutdownNow();
      try {
        server.awaitTermination(10, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
