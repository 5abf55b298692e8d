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
    assertEquals("protocol version 7 not supported by server (server speaks 1)",
        new String(reason.array(), StandardCharsets.UTF_8));
    assertEquals(0, readToEof(raw));
    assertGoodClientServed();
    assertEquals(1, acceptCount.get());
  }

  @Test
  void clientReportsAServerOfAnotherVersion(@TempDir Path tmp) throws Exception {
    Path sock = tmp.resolve("v2.sock");
    try (ServerSocketChannel fake = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
      fake.bind(UnixDomainSocketAddress.of(sock));
      Thread peer = new Thread(() -> {
        try (SocketChannel ch = fake.accept()) {
          writeAll(ch, ByteBuffer.allocate(38).putInt(0x50504950).putShort((short) 2).position(0));
          readFully(ch, ByteBuffer.allocate(38));
          byte[] why = "protocol version 1 not supported by server (server speaks 2)".getBytes(StandardCharsets.UTF_8);
          writeAll(ch, ByteBuffer.allocate(3 + why.length).put((byte) 2).putShort((short) why.length).put(why).flip());
        } catch (Exception ignored) {
          // The assertion below reports it.
        }
      });
      peer.start();
      ProtocolException e = assertThrows(ProtocolException.class, () -> provider.connect(sock.toString(), options()));
      assertTrue(e.getMessage().contains("protocol version 1 not supported by server (server speaks 2)"),
          e.getMessage());
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
    writeAll(raw, ByteBuffer.wrap("PPIP\0\1abc".getBytes(StandardCharsets.US_ASCII)));
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
