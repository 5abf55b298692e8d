package io.procpool.ipc.pipes;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.procpool.api.spi.Connection;
import io.procpool.api.spi.ProtocolException;
import io.procpool.api.spi.TransportOptions;
import io.procpool.api.spi.TransportProvider;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.ServiceLoader;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(60)
class PipesServerTest extends PipesFixture {

  @Test
  void providerIsFoundByServiceLoader() {
    TransportProvider found = ServiceLoader.load(TransportProvider.class).stream()
        .map(ServiceLoader.Provider::get)
        .filter(p -> p.name().equals("pipes"))
        .findFirst()
        .orElseThrow();
    assertInstanceOf(PipesTransportProvider.class, found);
    assertTrue(found.isAvailable());
    assertFalse(found.workersInProcess());
  }

  @Test
  void socketDirectoryIsPrivateAndDeletedOnClose() throws Exception {
    startServer();
    Path sock = Path.of(server.address());
    assertTrue(sock.isAbsolute());
    assertEquals("pool.sock", sock.getFileName().toString());
    Path dir = sock.getParent();
    assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(dir)));
    assertTrue(Files.exists(sock));
    Pair p = new Pair();
    server.close();
    assertNull(p.serverRec.awaitClosed(), "close() closes the connections it accepted");
    assertNull(p.clientRec.awaitClosed());
    assertFalse(Files.exists(sock));
    assertFalse(Files.exists(dir));
    server.close(); // idempotent
    assertThrows(java.io.IOException.class, () -> provider.connect(sock.toString(), options()));
  }

  @Test
  void listensOnTheConfiguredAddress(@TempDir Path tmp) throws Exception {
    Path sock = tmp.resolve("custom.sock");
    startServer(new TransportOptions(KEY, MAX_FRAME, sock.toString(), Map.of()));
    assertEquals(sock.toAbsolutePath().toString(), server.address());
    assertGoodClientServed();
    server.close();
    assertFalse(Files.exists(sock));
    assertTrue(Files.exists(tmp), "a directory the user chose is not deleted");
  }

  @Test
  void wrongKeyIsRefusedWithAClearMessage() throws Exception {
    startServer();
    ProtocolException e = assertThrows(ProtocolException.class,
        () -> provider.connect(server.address(), options(OTHER_KEY)));
    assertTrue(e.getMessage().contains("auth key"), e.getMessage());
    assertTrue(e.getMessage().contains(server.address()), e.getMessage());
    assertGoodClientServed();
    assertEquals(1, acceptCount.get(), "only the good client reached the acceptor");
  }

  @Test
  void unsupportedVersionIsRefused() throws Exception {
    startServer();
    SocketChannel raw = rawConnect();
    assertEquals(2, rawHandshake(raw, KEY, 7));
    ByteBuffer len = ByteBuffer.allocate(2);
    readFully(raw, len);
    ByteBuffer reason = ByteBuffer.allocate(len.getShort(0));
    readFully(raw, reason);
    assertEquals("protocol version 7 not supported by server (server speaks 2)",
        new String(reason.array(), StandardCharsets.UTF_8));
    assertEquals(0, readToEof(raw));
    assertGoodClientServed();
    assertEquals(1, acceptCount.get());
  }

  @Test
  void aVersionOneClientWhichNeverChecksTheServerIsRefused() throws Exception {
    startServer();
    SocketChannel raw = rawConnect();
    readFully(raw, ByteBuffer.allocate(38));
    // version 1: magic, version, HMAC(key, server nonce); the server refuses after the header
    writeAll(raw, ByteBuffer.allocate(38).putInt(0x50504950).putShort((short) 1).position(0));
    ByteBuffer head = ByteBuffer.allocate(3);
    readFully(raw, head);
    assertEquals(2, head.get(0));
    ByteBuffer reason = ByteBuffer.allocate(head.getShort(1));
    readFully(raw, reason);
    assertEquals("protocol version 1 not supported by server (server speaks 2)",
        new String(reason.array(), StandardCharsets.UTF_8));
    assertEquals(0, acceptCount.get());
  }

  /** A fake endpoint on another socket path: it accepts any proof but cannot prove the key itself. */
  @Test
  void aSpoofedServerThatDoesNotKnowTheKeyIsRefusedByTheClient(@TempDir Path tmp) throws Exception {
    Path sock = tmp.resolve("spoof.sock");
    try (ServerSocketChannel fake = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
      fake.bind(UnixDomainSocketAddress.of(sock));
      java.util.concurrent.atomic.AtomicBoolean frameSent = new java.util.concurrent.atomic.AtomicBoolean();
      Thread peer = new Thread(() -> {
        try (SocketChannel ch = fake.accept()) {
          byte[] nonce = new byte[32];
          new Random(1).nextBytes(nonce);
          writeAll(ch, ByteBuffer.allocate(38).putInt(0x50504950).putShort((short) 2).put(nonce).flip());
          readFully(ch, ByteBuffer.allocate(70));
          byte[] guess = new byte[32];
          new Random(2).nextBytes(guess);
          writeAll(ch, ByteBuffer.allocate(33).put((byte) 0).put(guess).flip()); // "OK" and a made-up proof
          writeAll(ch, ByteBuffer.allocate(8).putInt(4).putInt(0xBADC0DE).flip()); // then a frame
          frameSent.set(true);
          readToEof(ch);
        } catch (Exception ignored) {
          // The assertion below reports it.
        }
      });
      peer.start();
      ProtocolException e = assertThrows(ProtocolException.class, () -> provider.connect(sock.toString(), options()));
      assertTrue(e.getMessage().contains("mutual authentication failed"), e.getMessage());
      assertTrue(e.getMessage().contains(sock.toString()), e.getMessage());
      peer.join();
    }
  }

  /** The old one-way handshake: the server says OK without any proof. */
  @Test
  void aServerThatAcceptsWithoutAProofIsRefusedByTheClient(@TempDir Path tmp) throws Exception {
    Path sock = tmp.resolve("oneway.sock");
    try (ServerSocketChannel fake = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
      fake.bind(UnixDomainSocketAddress.of(sock));
      Thread peer = new Thread(() -> {
        try (SocketChannel ch = fake.accept()) {
          writeAll(ch, ByteBuffer.allocate(38).putInt(0x50504950).putShort((short) 2).position(0));
          readFully(ch, ByteBuffer.allocate(70));
          writeAll(ch, ByteBuffer.wrap(new byte[] {0}));
        } catch (Exception ignored) {
          // The assertion below reports it.
        }
      });
      peer.start();
      java.io.IOException e = assertThrows(java.io.IOException.class, () -> provider.connect(sock.toString(), options()));
      assertTrue(e.getMessage().contains("closed the connection during the handshake"), e.getMessage());
      peer.join();
    }
  }

  @Test
  void clientReportsAServerOfAnotherVersion(@TempDir Path tmp) throws Exception {
    Path sock = tmp.resolve("v2.sock");
    try (ServerSocketChannel fake = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
      fake.bind(UnixDomainSocketAddress.of(sock));
      Thread peer = new Thread(() -> {
        try (SocketChannel ch = fake.accept()) {
          writeAll(ch, ByteBuffer.allocate(38).putInt(0x50504950).putShort((short) 3).position(0));
          readToEof(ch);
        } catch (Exception ignored) {
          // The assertion below reports it.
        }
      });
      peer.start();
      ProtocolException e = assertThrows(ProtocolException.class, () -> provider.connect(sock.toString(), options()));
      assertTrue(e.getMessage().contains("speaks pipes handshake version 3, this client speaks 2"), e.getMessage());
      peer.join();
    }
  }

  @Test
  void garbageInsteadOfAHandshakeIsRefusedAndTheServerGoesOn() throws Exception {
    startServer();
    SocketChannel raw = rawConnect();
    readFully(raw, ByteBuffer.allocate(38));
    byte[] garbage = new byte[4096];
    new Random(7).nextBytes(garbage);
    writeAll(raw, ByteBuffer.wrap(garbage));
    readToEof(raw); // the server answers "bad magic" and closes
    assertGoodClientServed();
    assertEquals(1, acceptCount.get());
  }

  @Test
  void truncatedHandshakeIsDroppedAndTheServerGoesOn() throws Exception {
    startServer();
    SocketChannel raw = rawConnect();
    readFully(raw, ByteBuffer.allocate(38));
    writeAll(raw, ByteBuffer.wrap("PPIP\0\2abc".getBytes(StandardCharsets.US_ASCII)));
    raw.shutdownOutput();
    assertEquals(0, readToEof(raw));
    assertGoodClientServed();
    assertEquals(1, acceptCount.get());
  }

  @Test
  void silentClientTimesOutWithoutBlockingOthers() throws Exception {
    startServer(new TransportOptions(KEY, MAX_FRAME, null,
        Map.of(PipesTransportProvider.HANDSHAKE_TIMEOUT_PROPERTY, "300")));
    SocketChannel silent = rawConnect();
    SocketChannel silent2 = rawConnect();
    // The good client is served while the silent ones are still pending.
    Connection c = provider.connect(server.address(), options());
    c.close();
    assertEquals(38, readToEof(silent), "the server sent its hello, then closed after the deadline");
    assertEquals(38, readToEof(silent2));
    assertEquals(1, acceptCount.get());
  }

  /**
   * More silent connections than there are handshake slots, held open (the deadline is the default
   * 10 s): a real client still gets in at once, because the oldest silent one makes room.
   */
  @Test
  void silentConnectionsFillingEveryHandshakeSlotDoNotLockOutARealClient() throws Exception {
    startServer();
    List<SocketChannel> silent = new ArrayList<>();
    for (int i = 0; i < PipesServer.MAX_PENDING_HANDSHAKES; i++) {
      SocketChannel ch = rawConnect();
      readFully(ch, ByteBuffer.allocate(38)); // its handshake has started: it holds a slot
      silent.add(ch);
    }
    for (int i = 0; i < 16; i++) {
      silent.add(rawConnect()); // and more
    }
    long start = System.nanoTime();
    Connection c = connect();
    long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
    assertTrue(millis < PipesTransportProvider.DEFAULT_HANDSHAKE_TIMEOUT_MILLIS / 2,
        "the real client waited " + millis + " ms");
    Pair p = new Pair(c);
    p.client.write(utf8("through the flood"));
    p.client.flush();
    assertEquals("through the flood", p.serverRec.nextString());
    assertTrue(((PipesServer) server).evictions() >= 17, "silent ones made room: " + ((PipesServer) server).evictions());
  }

  /** A peer that answered is never dropped to make room, however many silent ones come after it. */
  @Test
  void aPeerThatAnsweredIsNotDroppedByLaterSilentOnes() throws Exception {
    startServer();
    SocketChannel answered = rawConnect();
    List<SocketChannel> silent = new ArrayList<>();
    for (int i = 0; i < PipesServer.MAX_PENDING_HANDSHAKES + 8; i++) {
      silent.add(rawConnect());
    }
    assertEquals(0, rawHandshake(answered, KEY, 2));
    assertTrue(accepted.poll(WAIT_SECONDS, TimeUnit.SECONDS) != null);
  }

  @Test
  void acceptLoopSurvivesAcceptFailuresAndABrokenLogHandler() throws Exception {
    java.util.logging.Logger log = java.util.logging.Logger.getLogger(PipesServer.class.getName());
    java.util.logging.Handler broken = new java.util.logging.Handler() {
      @Override
      public void publish(java.util.logging.LogRecord r) {
        throw new IllegalStateException("a log handler that throws");
      }

      @Override
      public void flush() {}

      @Override
      public void close() {}
    };
    log.addHandler(broken);
    try {
      startServer(new TransportOptions(KEY, MAX_FRAME, null,
          Map.of(PipesTransportProvider.HANDSHAKE_TIMEOUT_PROPERTY, "15000")));
      java.util.concurrent.atomic.AtomicInteger calls = new java.util.concurrent.atomic.AtomicInteger();
      ((PipesServer) server).acceptCallForTests(s -> {
        int n = calls.incrementAndGet();
        if (n <= 6) {
          throw new java.io.IOException("Too many open files");
        }
        if (n == 7) {
          throw new NoClassDefFoundError("a class that could not be loaded for want of a descriptor");
        }
        return s.accept();
      });
      Pair first = new Pair(); // accepted by the call that was already waiting
      first.client.write(utf8("one"));
      first.client.flush();
      assertEquals("one", first.serverRec.nextString());
      long start = System.nanoTime();
      Pair second = new Pair(); // waits in the backlog while accept fails 7 times, then gets in
      second.client.write(utf8("two"));
      second.client.flush();
      assertEquals("two", second.serverRec.nextString());
      assertTrue(calls.get() >= 8, "accept was retried: " + calls.get());
      long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
      assertTrue(millis < 10_000, "back-off is bounded: " + millis + " ms");
    } finally {
      log.removeHandler(broken);
    }
  }

  @Test
  void clientGivesUpOnASilentServer(@TempDir Path tmp) throws Exception {
    Path sock = tmp.resolve("silent.sock");
    try (ServerSocketChannel fake = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
      fake.bind(UnixDomainSocketAddress.of(sock));
      long start = System.nanoTime();
      assertThrows(java.net.SocketTimeoutException.class, () -> provider.connect(sock.toString(),
          new TransportOptions(KEY, MAX_FRAME, null, Map.of(PipesTransportProvider.HANDSHAKE_TIMEOUT_PROPERTY, "200"))));
      assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(WAIT_SECONDS));
    }
  }

  @Test
  void connectToNothingIsAnIoException(@TempDir Path tmp) {
    java.io.IOException e = assertThrows(java.io.IOException.class,
        () -> provider.connect(tmp.resolve("nobody.sock").toString(), options()));
    assertFalse(e instanceof ProtocolException);
  }

  @Test
  void badHandshakeTimeoutPropertyIsRejected() {
    assertThrows(IllegalArgumentException.class, () -> provider.listen(
        new TransportOptions(KEY, MAX_FRAME, null, Map.of(PipesTransportProvider.HANDSHAKE_TIMEOUT_PROPERTY, "soon")),
        c -> {}));
  }
}
