package io.procpool.ipc.pipes;

import io.procpool.api.spi.TransportServer;
import java.io.IOException;
import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A listening UNIX-domain socket. One daemon thread accepts; each accepted socket is authenticated on
 * a short-lived handshake thread (at most {@link #MAX_PENDING_HANDSHAKES} at once, each with a
 * deadline), so a slow or hostile client never holds up the others.
 */
final class PipesServer implements TransportServer {
  static final int MAX_PENDING_HANDSHAKES = 64;
  private static final Logger LOG = System.getLogger(PipesServer.class.getName());
  private static final AtomicInteger HANDSHAKE_IDS = new AtomicInteger();

  private final ServerSocketChannel server;
  private final Path socketPath;
  private final Path ownedDirectory; // null when the user chose the socket path
  private final byte[] authKey;
  private final int maxFrameSize;
  private final long handshakeTimeoutMillis;
  private final Acceptor acceptor;
  private final AtomicBoolean closed = new AtomicBoolean();
  private final Set<SocketChannel> handshaking = ConcurrentHashMap.newKeySet();
  private final Set<PipesConnection> connections = ConcurrentHashMap.newKeySet();
  private final Semaphore handshakePermits = new Semaphore(MAX_PENDING_HANDSHAKES);
  private final AtomicInteger connectionIds = new AtomicInteger();
  private final Thread acceptThread;

  PipesServer(ServerSocketChannel server, Path socketPath, Path ownedDirectory, byte[] authKey,
      int maxFrameSize, long handshakeTimeoutMillis, Acceptor acceptor) {
    this.server = server;
    this.socketPath = socketPath;
    this.ownedDirectory = ownedDirectory;
    this.authKey = authKey;
    this.maxFrameSize = maxFrameSize;
    this.handshakeTimeoutMillis = handshakeTimeoutMillis;
    this.acceptor = acceptor;
    this.acceptThread = new Thread(this::acceptLoop, "procpool-pipes-accept");
    acceptThread.setDaemon(true);
  }

  /** Binds {@code socketPath} and starts accepting. */
  static PipesServer open(Path socketPath, Path ownedDirectory, byte[] authKey, int maxFrameSize,
      long handshakeTimeoutMillis, Acceptor acceptor) throws IOException {
    ServerSocketChannel ch = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
    try {
      ch.bind(UnixDomainSocketAddress.of(socketPath));
    } catch (IOException | RuntimeException e) {
      ch.close();
      throw e;
    }
    PipesServer s = new PipesServer(ch, socketPath, ownedDirectory, authKey, maxFrameSize,
        handshakeTimeoutMillis, acceptor);
    s.acceptThread.start();
    return s;
  }

  @Override
  public String address() {
    return socketPath.toString();
  }

  private void acceptLoop() {
    while (!closed.get()) {
      SocketChannel ch;
      try {
        ch = server.accept();
      } catch (IOException e) {
        if (!closed.get()) {
          LOG.log(Level.ERROR, "pipes: accept failed on " + socketPath + "; no longer accepting", e);
        }
        return;
      }
      if (closed.get() || !handshakePermits.tryAcquire()) {
        closeQuietly(ch); // shutting down, or flooded with unauthenticated connections
        continue;
      }
      handshaking.add(ch);
      if (closed.get()) {
        handshaking.remove(ch);
        handshakePermits.release();
        closeQuietly(ch);
        continue;
      }
      Thread t = new Thread(() -> handshake(ch), "procpool-pipes-handshake-" + HANDSHAKE_IDS.incrementAndGet());
      t.setDaemon(true);
      t.start();
    }
  }

  private void handshake(SocketChannel ch) {
    Timeouts.Deadline deadline = Timeouts.closeAfter(ch, handshakeTimeoutMillis);
    boolean ok = false;
    try {
      Handshake.serverSide(ch, authKey);
      ok = !deadline.cancel();
    } catch (IOException | RuntimeException e) {
      deadline.cancel();
      String why = deadline.expired() ? "handshake timed out after " + handshakeTimeoutMillis + " ms" : e.getMessage();
      LOG.log(Level.DEBUG, () -> "pipes: refused a connection on " + socketPath + ": " + why);
    } finally {
      handshaking.remove(ch);
      handshakePermits.release();
    }
    if (!ok) {
      closeQuietly(ch);
      return;
    }
    String description = "unix:" + socketPath + " #" + connectionIds.incrementAndGet();
    PipesConnection conn;
    try {
      conn = new PipesConnection(ch, maxFrameSize, description, connections::remove);
    } catch (IOException | RuntimeException e) {
      LOG.log(Level.WARNING, "pipes: could not set up " + description + "; closing it", e);
      closeQuietly(ch);
      return;
    }
    connections.add(conn);
    if (closed.get()) {
      conn.close();
      return;
    }
    try {
      acceptor.onConnection(conn);
    } catch (RuntimeException e) {
      LOG.log(Level.ERROR, "pipes: the acceptor failed on " + description + "; closing it", e);
      conn.close();
    }
  }

  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    try {
      server.close();
    } catch (IOException ignored) {
      // Nothing to do.
    }
    for (SocketChannel ch : handshaking) {
      closeQuietly(ch);
    }
    for (PipesConnection c : connections) {
      c.close();
    }
    try {
      Files.deleteIfExists(socketPath);
      if (ownedDirectory != null) {
        Files.deleteIfExists(ownedDirectory);
      }
    } catch (IOException e) {
      LOG.log(Level.WARNING, "pipes: could not delete " + socketPath, e);
    }
  }

  /** Connections currently open; for tests. */
  int openConnections() {
    return connections.size();
  }

  private static void closeQuietly(SocketChannel ch) {
    try {
      ch.close();
    } catch (IOException ignored) {
      // Nothing to do.
    }
  }

  @Override
  public String toString() {
    return "PipesServer[unix:" + socketPath + "]";
  }
}
