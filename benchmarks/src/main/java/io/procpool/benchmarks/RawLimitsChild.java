package io.procpool.benchmarks;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;

/**
 * The child JVM of {@link RawLimitsBenchmark}: a tiny main with no procpool code, started with this
 * JVM's {@code java} and the benchmark JVM's classpath, the way a worker is started.
 *
 * <ul>
 *   <li>{@code ready}: writes one byte on stdout as the first thing in {@code main}, then exits (JVM spawn
 *       to ready).
 *   <li>{@code serve <socket path>}: connects to the UNIX-domain socket, reads a mode byte and serves
 *       that protocol until the parent closes the connection: {@code 'P'} ping-pong (reads 8 bytes,
 *       writes them back), {@code 'S'} stream (reads whatever has arrived, writes every complete
 *       64-byte message back with its own {@code write}), {@code 'C'} coalesced stream (writes all
 *       complete 64-byte messages that one read brought back with a single {@code write}), {@code 'B'} bulk (reads an int size, then
 *       repeatedly reads {@code size} bytes completely and writes them back).
 * </ul>
 */
public final class RawLimitsChild {
  static final int PING_BYTES = 8;
  static final int MESSAGE_BYTES = 64;

  private RawLimitsChild() {}

  public static void main(String[] args) throws IOException {
    if (args.length == 1 && args[0].equals("ready")) {
      System.out.write(1);
      System.out.flush();
      return;
    }
    if (args.length != 2 || !args[0].equals("serve")) {
      throw new IllegalArgumentException("usage: RawLimitsChild ready | serve <socket path>");
    }
    try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
      ch.connect(UnixDomainSocketAddress.of(args[1]));
      ByteBuffer mode = ByteBuffer.allocate(1);
      if (!readFully(ch, mode)) {
        return;
      }
      switch (mode.get(0)) {
        case 'P':
          pingPong(ch);
          break;
        case 'S':
          stream(ch, false);
          break;
        case 'C':
          stream(ch, true);
          break;
        case 'B':
          bulk(ch);
          break;
        default:
          throw new IllegalArgumentException("unknown mode " + mode.get(0));
      }
    }
  }

  private static void pingPong(SocketChannel ch) throws IOException {
    ByteBuffer buf = ByteBuffer.allocateDirect(PING_BYTES);
    while (true) {
      buf.clear();
      if (!readFully(ch, buf)) {
        return;
      }
      buf.flip();
      writeFully(ch, buf);
    }
  }

  private static void stream(SocketChannel ch, boolean coalesce) throws IOException {
    ByteBuffer in = ByteBuffer.allocateDirect(64 * 1024);
    while (true) {
      if (ch.read(in) < 0) {
        return;
      }
      in.flip();
      int limit = in.limit();
      if (coalesce) {
        in.limit(in.position() + in.remaining() / MESSAGE_BYTES * MESSAGE_BYTES);
        writeFully(ch, in);
        in.limit(limit);
      }
      while (in.remaining() >= MESSAGE_BYTES) {
        int start = in.position();
        in.limit(start + MESSAGE_BYTES);
        writeFully(ch, in);
        in.limit(limit);
      }
      in.compact();
    }
  }

  private static void bulk(SocketChannel ch) throws IOException {
    ByteBuffer header = ByteBuffer.allocate(4);
    if (!readFully(ch, header)) {
      return;
    }
    ByteBuffer buf = ByteBuffer.allocateDirect(header.getInt(0));
    while (true) {
      buf.clear();
      if (!readFully(ch, buf)) {
        return;
      }
      buf.flip();
      writeFully(ch, buf);
    }
  }

  /** Fills {@code buf}; false on a clean end of stream before its first byte. */
  static boolean readFully(SocketChannel ch, ByteBuffer buf) throws IOException {
    boolean any = false;
    while (buf.hasRemaining()) {
      if (ch.read(buf) < 0) {
        if (!any) {
          return false;
        }
        throw new IOException("end of stream inside a message");
      }
      any = true;
    }
    return true;
  }

  static void writeFully(SocketChannel ch, ByteBuffer buf) throws IOException {
    while (buf.hasRemaining()) {
      ch.write(buf);
    }
  }
}
