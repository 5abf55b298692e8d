package io.procpool.ipc.grpc;

import static io.procpool.ipc.grpc.Fixtures.options;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.InsecureChannelCredentials;
import io.grpc.InsecureServerCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.procpool.api.spi.ProtocolException;
import io.procpool.ipc.grpc.internal.proto.Frames;
import io.procpool.ipc.grpc.internal.proto.WorkerChannelGrpc;
import java.io.ByteArrayOutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Issue 10 point 9 over gRPC: the worker verifies the server, and the key never crosses the wire. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class GrpcMutualAuthTest {

  /**
   * A gRPC endpoint that speaks the transport's wire format but does not know the key (a spoofed
   * server on a reused port). It records every byte of every header and message it receives.
   */
  static final class SpoofedServer implements AutoCloseable {
    final Server server;
    final ByteArrayOutputStream received = new ByteArrayOutputStream();
    volatile int streams;

    SpoofedServer(Consumer<Metadata> responseHeaders) throws Exception {
      ServerCallHandler<Frames, Frames> handler = (call, headers) -> {
        streams++;
        record(headers.toString().getBytes(StandardCharsets.UTF_8));
        for (String k : headers.keys()) {
          if (k.endsWith(Metadata.BINARY_HEADER_SUFFIX)) {
            for (byte[] v : headers.getAll(Metadata.Key.of(k, Metadata.BINARY_BYTE_MARSHALLER))) {
              record(v);
            }
          }
        }
        Metadata response = new Metadata();
        responseHeaders.accept(response);
        call.sendHeaders(response);
        call.request(Integer.MAX_VALUE);
        call.sendMessage(Frames.getDefaultInstance()); // an "ack", as an old server sent at once
        return new ServerCall.Listener<>() {
          @Override
          public void onMessage(Frames message) {
            for (int i = 0; i < message.getMessagesCount(); i++) {
              record(message.getMessages(i).toByteArray());
            }
          }
        };
      };
      ServerServiceDefinition service = ServerServiceDefinition.builder(WorkerChannelGrpc.getServiceDescriptor())
          .addMethod(WorkerChannelGrpc.getOpenMethod(), handler)
          .build();
      server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0), InsecureServerCredentials.create())
          .addService(service)
          .build()
          .start();
    }

    private synchronized void record(byte[] b) {
      received.writeBytes(b);
    }

    String address() {
      return "127.0.0.1:" + ((InetSocketAddress) server.getListenSockets().get(0)).getPort();
    }

    synchronized boolean sawKey() {
      return indexOf(received.toByteArray(), Fixtures.KEY) >= 0;
    }

    @Override
    public void close() throws Exception {
      server.shutdownNow();
      server.awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  // Spelled out here (not Handshake's constants) so that this test also runs against older code.
  static final Metadata.Key<byte[]> SERVER_NONCE =
      Metadata.Key.of("procpool-server-nonce-bin", Metadata.BINARY_BYTE_MARSHALLER);
  static final Metadata.Key<byte[]> SERVER_PROOF =
      Metadata.Key.of("procpool-server-proof-bin", Metadata.BINARY_BYTE_MARSHALLER);

  static byte[] random() {
    byte[] b = new byte[32];
    new java.security.SecureRandom().nextBytes(b);
    return b;
  }

  static int indexOf(byte[] haystack, byte[] needle) {
    outer:
    for (int i = 0; i + needle.length <= haystack.length; i++) {
      for (int j = 0; j < needle.length; j++) {
        if (haystack[i + j] != needle[j]) {
          continue outer;
        }
      }
      return i;
    }
    return -1;
  }

  @Test
  void aServerThatCannotProveTheKeyIsRefusedAndNeverReceivesIt() throws Exception {
    try (SpoofedServer spoof = new SpoofedServer(h -> {
      h.put(Handshake.VERSION_KEY, Handshake.PROTOCOL_VERSION);
      h.put(SERVER_NONCE, random());
      h.put(SERVER_PROOF, random()); // a guess
    })) {
      ProtocolException e = assertThrows(ProtocolException.class,
          () -> new GrpcTransportProvider().connect(spoof.address(), options()));
      assertTrue(e.getMessage().contains("did not prove that it knows this client's key"), e.getMessage());
      System.out.println("grpc: spoofed server -> " + e.getMessage());
      assertEquals(1, spoof.streams);
      assertFalse(spoof.sawKey(), "the spoofed server received the auth key");
    }
  }

  @Test
  void aServerThatSendsNoProofIsRefusedAndNeverReceivesTheKey() throws Exception {
    try (SpoofedServer spoof = new SpoofedServer(h -> h.put(Handshake.VERSION_KEY, Handshake.PROTOCOL_VERSION))) {
      ProtocolException e = assertThrows(ProtocolException.class,
          () -> new GrpcTransportProvider().connect(spoof.address(), options()));
      assertTrue(e.getMessage().contains("did not prove"), e.getMessage());
      assertFalse(spoof.sawKey(), "the spoofed server received the auth key");
    }
  }

  @Test
  void aServerOfAnotherProtocolVersionIsRefusedClearly() throws Exception {
    try (SpoofedServer old = new SpoofedServer(h -> h.put(Handshake.VERSION_KEY, "1"))) {
      ProtocolException e = assertThrows(ProtocolException.class,
          () -> new GrpcTransportProvider().connect(old.address(), options()));
      assertTrue(e.getMessage().contains("speaks procpool protocol version 1"), e.getMessage());
      assertFalse(old.sawKey());
    }
  }

  @Test
  void aClientOfAnotherProtocolVersionIsRefusedClearly() throws Exception {
    try (Fixtures.Server s = new Fixtures.Server(options())) {
      ManagedChannel channel = NettyChannelBuilder.forTarget(s.server.address(), InsecureChannelCredentials.create())
          .build();
      try {
        ClientCall<Frames, Frames> call = channel.newCall(WorkerChannelGrpc.getOpenMethod(), CallOptions.DEFAULT);
        CompletableFuture<Status> end = new CompletableFuture<>();
        Metadata headers = new Metadata();
        headers.put(Handshake.VERSION_KEY, "1");
        call.start(new ClientCall.Listener<>() {
          @Override
          public void onClose(Status status, Metadata trailers) {
            end.complete(status);
          }
        }, headers);
        Status status = end.get(30, TimeUnit.SECONDS);
        assertEquals(Status.Code.FAILED_PRECONDITION, status.getCode());
        assertTrue(status.getDescription().contains("protocol version mismatch: the worker speaks 1, the pool speaks "
            + Handshake.PROTOCOL_VERSION), status.getDescription());
        assertEquals(0, s.acceptCount.get());
      } finally {
        channel.shutdownNow();
      }
    }
  }
}
