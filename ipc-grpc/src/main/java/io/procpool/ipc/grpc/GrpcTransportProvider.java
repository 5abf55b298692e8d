package io.procpool.ipc.grpc;

import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.procpool.api.spi.Connection;
import io.procpool.api.spi.TransportOptions;
import io.procpool.api.spi.TransportProvider;
import io.procpool.api.spi.TransportServer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.TimeUnit;

/**
 * The {@code grpc} transport: each worker opens one gRPC bidirectional stream to a server in the
 * parent, and both sides send batches of pool messages over it. Selected with
 * {@code ProcessPool.builder().transport("grpc")}.
 *
 * <p><b>Addresses.</b> The server binds {@code 127.0.0.1} on an ephemeral port unless
 * {@link TransportOptions#listenAddress()} gives {@code host:port}; {@link TransportServer#address()}
 * is {@code host:port} (the local host name when bound to a wildcard address).
 *
 * <p><b>Authentication</b> is mutual and the key never crosses the wire: worker and server exchange
 * fresh nonces in the stream's headers and each proves the key with an HMAC over both nonces; the
 * worker checks the server's proof before it sends anything else, so an endpoint that does not know
 * the key (a spoofed server on a reused port) learns nothing and is refused by {@link #connect} with
 * a {@link io.procpool.api.spi.ProtocolException}, as is a wrong key on either side. A protocol
 * version in the headers is checked the same way. The cost is paid once per connection.
 *
 * <p><b>Security.</b> Without TLS properties the stream is <em>plaintext</em>: every message is
 * readable on the network. That is fine on loopback, the default; {@link #listen} refuses any other
 * address in plaintext ({@link IllegalArgumentException}) unless the property
 * {@link TransportOptions#ALLOW_PLAINTEXT} is {@code "true"}. Configure TLS with these
 * {@link TransportOptions#properties() transport properties} (PEM files):
 * <ul>
 *   <li>server: {@code grpc.tls.certChain} and {@code grpc.tls.privateKey} (PKCS#8); with
 *       {@code grpc.tls.clientTrustCerts} it also requires and verifies client certificates;
 *   <li>worker: {@code grpc.tls.trustCerts} (the certificate or CA to trust; without it the JDK's
 *       trust store, if {@code grpc.tls.enabled=true}), and for mutual TLS
 *       {@code grpc.tls.clientCertChain} and {@code grpc.tls.clientPrivateKey};
 *       {@code grpc.tls.authority} overrides the host name checked against the certificate.
 * </ul>
 * One property map with all of these can serve both sides. A TLS server's
 * {@link TransportServer#clientProperties()} name its own certificate chain as
 * {@code grpc.tls.trustCerts}, so that the pool's (or manager's) own children trust it without
 * settings.
 *
 * <p><b>Timing.</b> {@code grpc.keepAliveTimeMillis} (default 20000) and
 * {@code grpc.keepAliveTimeoutMillis} (default 10000) detect a dead peer; {@code connect} waits at
 * most {@code grpc.connectTimeoutMillis} (default 20000) for the server to accept.
 *
 * <p><b>Threading.</b> Listeners run directly on Netty's event loops, one thread at a time per
 * connection and in order: a worker's connection has an event loop of its own; the server's
 * connections share gRPC's server event loops. A listener should therefore not block for long (it
 * delays the other connections on its loop and keep-alive answers); a flush from a listener never
 * blocks: what the peer cannot take yet is sent when it can, and until then that connection reads
 * no further message.
 *
 * <p>Thread-safe and stateless, as {@link TransportProvider} requires.
 */
public final class GrpcTransportProvider extends TransportProvider {

  /** Creates the provider; {@link java.util.ServiceLoader} calls this. */
  public GrpcTransportProvider() {}

  @Override
  public String name() {
    return "grpc";
  }

  @Override
  public boolean isAvailable() {
    try {
      Class.forName("io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder", false,
          GrpcTransportProvider.class.getClassLoader());
      Class.forName("com.google.protobuf.Message", false, GrpcTransportProvider.class.getClassLoader());
      return true;
    } catch (ClassNotFoundException | LinkageError e) {
      return false;
    }
  }

  @Override
  public TransportServer listen(TransportOptions options, TransportServer.Acceptor acceptor) throws IOException {
    Objects.requireNonNull(options, "options");
    Objects.requireNonNull(acceptor, "acceptor");
    return GrpcServer.start(options, acceptor);
  }

  /**
   * Turns off Netty's Flight Recorder support in workers and managers: detecting it loads and
   * initializes JFR, about 300 ms of every gRPC child's start (measured here: a pool of two built in
   * ~0.8 s instead of ~1.1 s). A user's {@code jvmOptions("-Dio.grpc.netty.shaded.io.netty.jfr.enabled=true")}
   * turns it back on.
   */
  @Override
  public java.util.List<String> childJvmOptions() {
    return java.util.List.of("-D" + NETTY_JFR + "=false");
  }

  /**
   * For workers on cluster nodes: both sides ping a silent connection after 10 s (gRPC's minimum) and
   * drop it when no answer comes within 4 s, instead of 20 s and 10 s. The pool's own heartbeat
   * notices a silent cluster worker sooner (about 8 s); this is how a worker notices that the pool's
   * host is gone.
   */
  @Override
  public Map<String, String> clusterProperties() {
    return Map.of(Settings.TIME, "10000", Settings.TIMEOUT, "4000");
  }

  /** Netty's (shaded) switch for its JFR events. */
  static final String NETTY_JFR = "io.grpc.netty.shaded.io.netty.jfr.enabled";

  @Override
  public Connection connect(String address, TransportOptions options) throws IOException {
    Objects.requireNonNull(options, "options");
    return connect(address, options, options.authKey());
  }

  /** Like {@link #connect(String, TransportOptions)} but presents {@code authKey}, or no key if null. */
  static Connection connect(String address, TransportOptions options, byte[] authKey) throws IOException {
    Objects.requireNonNull(address, "address");
    InetSocketAddress target = Addresses.parse(address);
    GrpcRegistrations.checkClient();
    Map<String, String> p = options.properties();
    Settings settings = Settings.of(p);
    boolean tls = Tls.clientTls(p);
    NettyChannelBuilder builder =
        NettyChannelBuilder.forAddress(target.getHostString(), target.getPort(), Tls.channelCredentials(p))
            .directExecutor() // listeners run on the channel's own event loop (see the class comment)
            .maxInboundMessageSize(Sizes.grpcMessageLimit(options.maxFrameSize()))
            .keepAliveTime(settings.timeMillis, TimeUnit.MILLISECONDS)
            .keepAliveTimeout(settings.timeoutMillis, TimeUnit.MILLISECONDS)
            .keepAliveWithoutCalls(true)
            .disableRetry()
            .userAgent("procpool");
    if (tls && p.containsKey(Tls.AUTHORITY)) {
      builder.overrideAuthority(p.get(Tls.AUTHORITY));
    }
    io.grpc.netty.shaded.io.netty.channel.EventLoopGroup[] group = new io.grpc.netty.shaded.io.netty.channel.EventLoopGroup[1];
    ManagedChannel channel = ClientEventLoops.use(builder, group).build();
    try {
      return ClientConnection.open(channel, group[0], address, options.maxFrameSize(), tls, authKey,
          settings.connectTimeoutMillis);
    } catch (IOException | RuntimeException e) {
      channel.shutdownNow();
      ClientEventLoops.shutdown(group[0]);
      throw e;
    }
  }
}
