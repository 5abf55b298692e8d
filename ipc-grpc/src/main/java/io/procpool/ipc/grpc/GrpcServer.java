package io.procpool.ipc.grpc;

import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptors;
import io.grpc.ServerServiceDefinition;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.netty.shaded.io.netty.util.internal.ThreadExecutorMap;
import io.procpool.api.spi.TransportOptions;
import io.procpool.api.spi.TransportServer;
import io.procpool.ipc.grpc.internal.proto.Frames;
import io.procpool.ipc.grpc.internal.proto.WorkerChannelGrpc;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.ArrayList;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/** The parent's gRPC server: one {@link ServerConnection} per authenticated worker stream. */
final class GrpcServer implements TransportServer {
  private final Server server;
  private final String address;
  private final Set<GrpcConnection> live = ConcurrentHashMap.newKeySet();
  private final AtomicBoolean closed = new AtomicBoolean();
  private final TransportServer.Acceptor acceptor;
  private final Map<String, String> clientProperties;

  private GrpcServer(TransportOptions options, TransportServer.Acceptor acceptor) throws IOException {
    InetSocketAddress requested = options.listenAddress()
        .map(Addresses::parse)
        .map(a -> new InetSocketAddress(a.getHostString(), a.getPort()))
        .orElseGet(() -> new InetSocketAddress("127.0.0.1", 0));
    if (requested.isUnresolved()) {
      throw new IOException("grpc: cannot resolve the listen address " + options.listenAddress().orElse(""));
    }
    Map<String, String> properties = options.properties();
    if (!Tls.serverTls(properties) && !requested.getAddress().isLoopbackAddress()
        && !"true".equalsIgnoreCase(properties.get(TransportOptions.ALLOW_PLAINTEXT))) {
      throw new IllegalArgumentException("grpc: refusing to listen on " + options.listenAddress().orElse("")
          + " without TLS: it is not a loopback address, so the handshake and every message would cross the"
          + " network in the clear. Configure TLS (transport properties " + Tls.CERT_CHAIN + " and "
          + Tls.PRIVATE_KEY + "), listen on loopback, or set the transport property \""
          + TransportOptions.ALLOW_PLAINTEXT + "\"=\"true\" (TransportOptions.ALLOW_PLAINTEXT) to accept that");
    }
    this.clientProperties = Tls.clientSide(properties);
    this.acceptor = acceptor;
    int maxFrameSize = options.maxFrameSize();
    Settings settings = Settings.of(options.properties());
    byte[] key = options.authKey();
    ServerCallHandler<Frames, Frames> handler = (call, headers) -> {
      StatusTracer tracer = StatusTracer.KEY.get();
      byte[] clientNonce = headers.get(Handshake.CLIENT_NONCE); // checked by AuthInterceptor
      byte[] serverNonce = Handshake.nonce();
      ServerConnection[] self = new ServerConnection[1];
      ServerConnection conn = new ServerConnection(call, tracer, maxFrameSize,
          Handshake.proof(key, Handshake.CLIENT, clientNonce, serverNonce), this::admit, () -> live.remove(self[0]));
      self[0] = conn;
      // directExecutor: this runs on the connection's event loop, where small flushes are coalesced.
      conn.useLoop(ThreadExecutorMap.currentExecutor());
      live.add(conn);
      Metadata response = new Metadata();
      response.put(Handshake.VERSION_KEY, Handshake.PROTOCOL_VERSION);
      response.put(Handshake.SERVER_NONCE, serverNonce);
      response.put(Handshake.SERVER_PROOF, Handshake.proof(key, Handshake.SERVER, clientNonce, serverNonce));
      call.sendHeaders(response);
      call.request(1); // the client's proof
      conn.authenticateWithin(settings.connectTimeoutMillis);
      if (closed.get()) {
        conn.close();
      }
      return conn.callListener();
    };
    ServerServiceDefinition service = ServerServiceDefinition.builder(WorkerChannelGrpc.getServiceDescriptor())
        .addMethod(WorkerChannelGrpc.getOpenMethod(), handler)
        .build();
    NettyServerBuilder builder = NettyServerBuilder.forAddress(requested, Tls.serverCredentials(options.properties()));
    this.server = builder
        .directExecutor() // listeners run on the connection's event loop: no hand-off per message
        .maxInboundMessageSize(Sizes.grpcMessageLimit(maxFrameSize))
        .keepAliveTime(settings.timeMillis, TimeUnit.MILLISECONDS)
        .keepAliveTimeout(settings.timeoutMillis, TimeUnit.MILLISECONDS)
        .permitKeepAliveTime(Math.min(settings.timeMillis, 10_000), TimeUnit.MILLISECONDS)
        .permitKeepAliveWithoutCalls(true)
        .addStreamTracerFactory(new StatusTracer.Factory())
        .addService(ServerInterceptors.intercept(service, new AuthInterceptor()))
        .build();
    try {
      server.start();
    } catch (IOException e) {
      server.shutdownNow();
      throw new IOException("grpc: cannot listen on " + requested + ": " + e.getMessage(), e);
    }
    int port = requested.getPort();
    for (SocketAddress a : server.getListenSockets()) {
      if (a instanceof InetSocketAddress) {
        port = ((InetSocketAddress) a).getPort();
        break;
      }
    }
    String host = requested.getAddress().isAnyLocalAddress()
        ? InetAddress.getLocalHost().getHostName()
        : requested.getHostString();
    this.address = Addresses.format(host, port);
  }

  /** A stream proved the key: hand it to the pool, unless this server closed meanwhile. */
  private void admit(ServerConnection conn) {
    if (closed.get()) {
      conn.close();
      return;
    }
    try {
      acceptor.onConnection(conn);
    } catch (RuntimeException e) {
      conn.abort(e);
    }
  }

  static GrpcServer start(TransportOptions options, TransportServer.Acceptor acceptor) throws IOException {
    return new GrpcServer(options, acceptor);
  }

  @Override
  public String address() {
    return address;
  }

  /** With TLS: trust this server's own certificate chain (a client on this host can read the file). */
  @Override
  public Map<String, String> clientProperties() {
    return clientProperties;
  }

  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    for (GrpcConnection c : new ArrayList<>(live)) {
      c.close();
    }
    server.shutdownNow();
    try {
      server.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  @Override
  public String toString() {
    return "GrpcServer[" + address + "]";
  }
}
