package io.procpool.ipc.grpc;

import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.MultiThreadIoEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.epoll.Epoll;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollIoHandler;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.nio.NioIoHandler;
import io.grpc.netty.shaded.io.netty.channel.socket.nio.NioSocketChannel;
import io.grpc.netty.shaded.io.netty.util.concurrent.DefaultThreadFactory;
import java.util.concurrent.TimeUnit;

/**
 * One event-loop thread per client connection, ended with it. gRPC's shared event loops outlive a
 * channel by a second and sit in {@code epoll_wait}, and at exit HotSpot waits up to 300 ms for
 * threads in native code: every worker JVM took that much longer to exit (and an application that
 * closed its last connection kept those threads a while).
 */
final class ClientEventLoops {
  private static final long AWAIT_MILLIS = 500;

  private ClientEventLoops() {}

  /** A channel builder on a new single-thread event loop group, returned in {@code group[0]}. */
  static NettyChannelBuilder use(NettyChannelBuilder builder, EventLoopGroup[] group) {
    boolean epoll = Epoll.isAvailable();
    EventLoopGroup g = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("procpool-grpc-client", true),
        epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory());
    group[0] = g;
    return builder.eventLoopGroup(g).channelType(epoll ? EpollSocketChannel.class : NioSocketChannel.class);
  }

  /**
   * Ends {@code group} at once and, unless called from its own thread, waits (briefly) until its
   * thread has left native code, so that a JVM exiting right after does not wait for it.
   */
  static void shutdown(EventLoopGroup group) {
    group.shutdownGracefully(0, 0, TimeUnit.MILLISECONDS);
    awaitExit(group);
  }

  /** Unless called from its own thread, waits (briefly) until {@code group}'s thread has ended. */
  static void awaitExit(EventLoopGroup group) {
    if (group.next().inEventLoop()) {
      return;
    }
    try {
      group.awaitTermination(AWAIT_MILLIS, TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
