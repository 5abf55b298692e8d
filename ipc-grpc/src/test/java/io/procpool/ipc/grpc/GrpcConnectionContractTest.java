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
        for (String name : headers.keys()) {
          if (name.endsWith(Metadata.BINARY_HEADER_SUFFIX)) {
            for (byte[] v : headers.getAll(Metadata.Key.of(name, Metadata.BINARY_BYTE_MARSHALLER))) {
              fake.keysSeen.add(v);
            }
          } else {
            for (String v : headers.getAll(Metadata.Key.of(name, Metadata.ASCII_STRING_MARSHALLER))) {
              fake.keysSeen.add(v.getBytes(java.nio.charset.StandardCharsets.ISO_8859_1));
            }
          }
        }
        // Plays the current handshake as well as it can without the key: a nonce and a guessed proof.
        Metadata response = new Metadata();
        response.put(Handshake.VERSION_KEY, Handshake.PROTOCOL_VERSION);
        response.put(Handshake.SERVER_NONCE, Handshake.nonce());
        response.put(Handshake.SERVER_PROOF, Handshake.nonce());
        call.sendHeaders(response);
        call.sendMessage(Frames.getDefaultInstance());
        call.request(Integer.MAX_VALUE);
        return new ServerCall.Listener<>() {
          @Override
          public void onMessage(Frames message) {
            fake.keysSeen.add(message.toByteArray());
          }
        };
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
      return keysSeen.stream().anyMatch(k -> contains(k, authKey));
    }

    private static boolean contains(byte[] haystack, byte[] needle) {
      for (int i = 0; i + needle.length <= haystack.length; i++) {
        if (Arrays.equals(haystack, i, i + needle.length, needle, 0, needle.length)) {
          return true;
        }
      }
      return false;
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
