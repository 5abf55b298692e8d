package io.procpool.ipc.pipes;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.procpool.api.spi.Connection;
import io.procpool.api.spi.TransportOptions;
import io.procpool.api.spi.TransportServer;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.junit.jupiter.api.AfterEach;

/** Shared set-up: a server, connected clients, recording listeners, and raw peers. */
abstract class PipesFixture {
  static final byte[] KEY = "0123456789abcdef-the-pool-key".getBytes(StandardCharsets.UTF_8);
  static final byte[] OTHER_KEY = "fedcba9876543210-another-key".getBytes(StandardCharsets.UTF_8);
  static final int MAX_FRAME = 32 * 1024 * 1024;
  static final long WAIT_SECONDS = 20;

  final PipesTransportProvider provider = new PipesTransportProvider();
  final BlockingQueue<Connection> accepted = new LinkedBlockingQueue<>();
  final AtomicInteger acceptCount = new AtomicInteger();
  private final List<AutoCloseable> toClose = new ArrayList<>();
  TransportServer server;

  static TransportOptions options(byte[] key) {
    return new TransportOptions(key, MAX_FRAME, null, Map.of());
  }

  static TransportOptions options() {
    return options(KEY);
  }

  TransportServer startServer(TransportOptions options) throws IOException {
    server = provider.listen(options, c -> {
      acceptCount.incrementAndGet();
      accepted.add(c);
    });
    toClose.add(server::close);
    return server;
  }

  TransportServer startServer() throws IOException {
    return startServer(options());
  }

  Connection connect() throws IOException {
    Connection c = provider.connect(server.address(), options());
    toClose.add(c::close);
    return c;
  }

  Connection nextAccepted() throws InterruptedException {
    Connection c = accepted.poll(WAIT_SECONDS, TimeUnit.SECONDS);
    assertNotNull(c, "the server did not accept a connection in time");
    toClose.add(c::close);
    return c;
  }

  /** A started client and its server-side peer, both with recording listeners. */
  final class Pair {
    final Connection client;
    final Connection serverSide;
    final Recorder clientRec = new Recorder();
    final Recorder serverRec = new Recorder();

    Pair() throws IOException, InterruptedException {
      this(connect());
    }

    Pair(Connection connected) throws InterruptedException {
      client = connected;
      serverSide = nextAccepted();
      client.start(clientRec);
      serverSide.start(serverRec);
    }
  }

  /** Proves the good client still gets through, end to end. */
  void assertGoodClientServed() throws Exception {
    Pair p = new Pair();
    p.client.write(utf8("still serving"));
    p.client.flush();
    assertEquals("still serving", p.serverRec.nextString());
  }

  SocketChannel rawConnect() throws IOException {
    SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
    ch.connect(UnixDomainSocketAddress.of(server.address()));
    toClose.add(ch);
    return ch;
  }

  /**
   * A raw peer that runs the client side of the handshake (version 2 layout, {@code version} in its
   * header) with {@code key}, checking the server's proof when it accepts; returns the status byte.
   * Written against javax.crypto.Mac, independently of the production code.
   */
  static int rawHandshake(SocketChannel ch, byte[] key, int version) throws Exception {
    ByteBuffer hello = ByteBuffer.allocate(38);
    readFully(ch, hello);
    assertEquals(0x50504950, hello.getInt(0), "magic");
    assertEquals(2, hello.getShort(4), "version");
    byte[] serverNonce = new byte[32];
    hello.get(6, serverNonce);
    byte[] clientNonce = new byte[32];
    new java.security.SecureRandom().nextBytes(clientNonce);
    ByteBuffer out = ByteBuffer.allocate(70);
    out.put("PPIP".getBytes(StandardCharsets.US_ASCII)).putShort((short) version).put(clientNonce)
        .put(mac(key, "procpool-pipes client", serverNonce, clientNonce)).flip();
    while (out.hasRemaining()) {
      ch.write(out);
    }
    ByteBuffer status = ByteBuffer.allocate(1);
    readFully(ch, status);
    if (status.get(0) == 0) {
      ByteBuffer proof = ByteBuffer.allocate(32);
      readFully(ch, proof);
      assertArrayEquals(mac(key, "procpool-pipes server", serverNonce, clientNonce), proof.array(),
          "the server's proof of the key");
    }
    return status.get(0);
  }

  static byte[] mac(byte[] key, String label, byte[] serverNonce, byte[] clientNonce) throws Exception {
    Mac mac = Mac.getInstance("HmacSHA256");
    mac.init(new SecretKeySpec(key, "HmacSHA256"));
    mac.update(label.getBytes(StandardCharsets.US_ASCII));
    mac.update(serverNonce);
    return mac.doFinal(clientNonce);
  }

  static void readFully(SocketChannel ch, ByteBuffer buf) throws IOException {
    while (buf.hasRemaining()) {
      if (ch.read(buf) < 0) {
        throw new java.io.EOFException();
      }
    }
  }

  /** Reads until the peer closes; returns how many bytes came first. */
  static int readToEof(SocketChannel ch) throws IOException {
    ByteBuffer buf = ByteBuffer.allocate(4096);
    int total = 0;
    while (true) {
      buf.clear();
      int r;
      try {
        r = ch.read(buf);
      } catch (IOException e) {
        return total; // connection reset counts as closed
      }
      if (r < 0) {
        return total;
      }
      total += r;
    }
  }

  static void writeAll(SocketChannel ch, ByteBuffer buf) throws IOException {
    while (buf.hasRemaining()) {
      ch.write(buf);
    }
  }

  static ByteBuffer utf8(String s) {
    return ByteBuffer.wrap(s.getBytes(StandardCharsets.UTF_8));
  }

  @AfterEach
  void closeAll() throws Exception {
    for (int i = toClose.size() - 1; i >= 0; i--) {
      toClose.get(i).close();
    }
  }

  /** Records everything a listener is told. */
  static final class Recorder implements Connection.Listener {
    final BlockingQueue<byte[]> messages = new LinkedBlockingQueue<>();
    final AtomicInteger closedCount = new AtomicInteger();
    final AtomicInteger readCompletes = new AtomicInteger();
    final CountDownLatch closed = new CountDownLatch(1);
    volatile Throwable cause;
    volatile boolean concurrentCall;
    private final AtomicInteger inside = new AtomicInteger();

    @Override
    public void onMessage(ByteBuffer message) {
      enter();
      byte[] copy = new byte[message.remaining()];
      message.get(copy);
      messages.add(copy);
      exit();
    }

    @Override
    public void onReadComplete() {
      enter();
      readCompletes.incrementAndGet();
      exit();
    }

    @Override
    public void onClosed(Throwable cause) {
      enter();
      this.cause = cause;
      closedCount.incrementAndGet();
      exit();
      closed.countDown();
    }

    private void enter() {
      if (inside.incrementAndGet() != 1) {
        concurrentCall = true;
      }
    }

    private void exit() {
      inside.decrementAndGet();
    }

    byte[] next() throws InterruptedException {
      byte[] m = messages.poll(WAIT_SECONDS, TimeUnit.SECONDS);
      assertNotNull(m, "no message arrived in time");
      return m;
    }

    String nextString() throws InterruptedException {
      return new String(next(), StandardCharsets.UTF_8);
    }

    Throwable awaitClosed() throws InterruptedException {
      assertTrue(closed.await(WAIT_SECONDS, TimeUnit.SECONDS), "onClosed was not called in time");
      return cause;
    }
  }
}
