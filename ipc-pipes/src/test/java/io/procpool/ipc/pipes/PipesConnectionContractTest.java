package io.procpool.ipc.pipes;

import io.procpool.api.spi.TransportProvider;
import io.procpool.testkit.AbstractConnectionContractTest;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/** The Connection contract over the pipes transport (UNIX-domain sockets). */
class PipesConnectionContractTest extends AbstractConnectionContractTest {

  @Override
  protected TransportProvider provider() {
    return new PipesTransportProvider();
  }

  /**
   * A socket that plays the pipes server without the key: it sends a well-formed hello (this
   * transport's magic and version, a fresh nonce), reads the client's answer whatever it is and
   * accepts it, then reads and discards everything.
   */
  @Override
  protected Impostor startImpostor() throws IOException {
    return FakePipesServer.start();
  }

  private static final class FakePipesServer implements Impostor {
    private final Path dir;
    private final Path socket;
    private final ServerSocketChannel server;
    private final Set<SocketChannel> clients = ConcurrentHashMap.newKeySet();

    private FakePipesServer(Path dir, Path socket, ServerSocketChannel server) {
      this.dir = dir;
      this.socket = socket;
      this.server = server;
    }

    static FakePipesServer start() throws IOException {
      Path dir = Files.createTempDirectory("procpool-impostor-");
      Path socket = dir.resolve("pool.sock");
      ServerSocketChannel ch = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
      ch.bind(UnixDomainSocketAddress.of(socket));
      FakePipesServer fake = new FakePipesServer(dir, socket, ch);
      Thread t = new Thread(fake::acceptLoop, "fake-pipes-server");
      t.setDaemon(true);
      t.start();
      return fake;
    }

    private void acceptLoop() {
      while (true) {
        SocketChannel c;
        try {
          c = server.accept();
        } catch (IOException closed) {
          return;
        }
        clients.add(c);
        Thread t = new Thread(() -> serve(c), "fake-pipes-client");
        t.setDaemon(true);
        t.start();
      }
    }

    private void serve(SocketChannel c) {
      try {
        // Plays the current handshake as well as it can without the key: a made-up proof.
        byte[] nonce = new byte[Handshake.NONCE_SIZE];
        new SecureRandom().nextBytes(nonce);
        ByteBuffer hello = ByteBuffer.allocate(Handshake.SERVER_HELLO_SIZE);
        hello.putInt(Handshake.MAGIC).putShort((short) Handshake.VERSION).put(nonce).flip();
        Handshake.writeFully(c, hello);
        Handshake.readFully(c, ByteBuffer.allocate(Handshake.CLIENT_HELLO_SIZE)); // the client's proof: not checked
        byte[] madeUp = new byte[Handshake.MAC_SIZE];
        new SecureRandom().nextBytes(madeUp);
        Handshake.writeFully(c, ByteBuffer.allocate(1 + madeUp.length).put(Handshake.STATUS_OK).put(madeUp).flip());
        ByteBuffer sink = ByteBuffer.allocate(64 * 1024);
        while (c.read(sink) >= 0) {
          sink.clear();
        }
      } catch (IOException ignored) {
        // The client hung up: fine.
      } finally {
        try {
          c.close();
        } catch (IOException ignored) {
          // Nothing to do.
        }
      }
    }

    @Override
    public String address() {
      return socket.toString();
    }

    @Override
    public void close() {
      try {
        server.close();
        for (SocketChannel c : clients) {
          c.close();
        }
        Files.deleteIfExists(socket);
        Files.deleteIfExists(dir);
      } catch (IOException e) {
        throw new IllegalStateException("cannot clean up the fake server at " + socket, e);
      }
    }
  }
}
