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
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * A listening UNIX-domain socket. One daemon thread accepts; each accepted socket is authenticated on
 * a short-lived handshake thread (at most {@link #MAX_PENDING_HANDSHAKES} at once, each with a
 * deadline), so a slow or hostile client never holds up the others.
 *
 * <p>When every handshake slot is taken, the oldest pending handshake whose client has not answered
 * yet is dropped to make room for the newcomer: a legitimate peer answers the server's hello at once,
 * so connections held open in silence cannot lock the pool's own workers out for the handshake
 * deadline.
 *
 * <p>The accept loop survives {@code accept()} failures (out of file descriptors, and whatever else
 * the process runs short of): it retries with a back-off from {@link #MIN_ACCEPT_BACKOFF_MILLIS} to
 * {@link #MAX_ACCEPT_BACKOFF_MILLIS} until the server is closed, logging the first failure of a run,
 * a reminder now and then, and the recovery.
 */
final class PipesServer implements TransportServer {
  static final int MAX_PENDING_HANDSHAKES = 64;
  static final long MIN_ACCEPT_BACKOFF_MILLIS = 10;
  static final long MAX_ACCEPT_BACKOFF_MILLIS = 1000;
  /** While accept keeps failing, a reminder is logged at most this often. */
  private static final long ACCEPT_FAILURE_LOG_INTERVAL_NANOS = TimeUnit.SECONDS.toNanos(30);
  private static final Logger LOG = System.getLogger(PipesServer.class.getName());
  private static final AtomicInteger HANDSHAKE_IDS = new AtomicInteger();

  /** How the accept loop accepts; a seam for tests. */
  @FunctionalInterface
  interface AcceptCall {
    SocketChannel accept(ServerSocketChannel server) throws IOException;
  }

  /** An accepted socket whose handshake is in progress. */
  private static final class Pending {
    final SocketChannel channel;
    /** The client's whole answer has arrived: the handshake no longer waits for it. */
    volatile boolean answered;
    /** Dropped to make room for a newer connection. */
    volatile boolean evicted;

    Pending(SocketChannel channel) {
      this.channel = channel;
    }
  }

  private final ServerSocketChannel server;
  private final Path socketPath;
  private final Path ownedDirectory; // null when the user chose the socket path
  private final byte[] authKey;
  private final int maxFrameSize;
  private final long handshakeTimeoutMillis;
  private final Acceptor acceptor;
  private final AtomicBoolean closed = new AtomicBoolean();
  /** Pending handshakes, oldest first; guarded by itself. */
  private final ArrayDeque<Pending> pending = new ArrayDeque<>();
  private final Set<PipesConnection> connections = ConcurrentHashMap.newKeySet();
  private final AtomicInteger connectionIds = new AtomicInteger();
  private final AtomicLong evictions = new AtomicLong();
  private final Thread acceptThread;
  private volatile AcceptCall acceptCall = ServerSocketChannel::accept;

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

  /** Replaces how the accept loop accepts; for tests that make accept fail. */
  void acceptCallForTests(AcceptCall call) {
    this.acceptCall = call;
  }

  /** How many pending handshakes were dropped to make room; for tests. */
  long evictions() {
    return evictions.get();
  }

  private void acceptLoop() {
    long backoffMillis = 0;
    int failures = 0;
    long lastLogged = 0;
    while (!closed.get()) {
      SocketChannel ch;
      try {
        ch = acceptCall.accept(server);
      } catch (Throwable e) { // EMFILE and friends, or an Error while the process is short of resources
        if (closed.get()) {
          return;
        }
        if (!server.isOpen()) {
          log(Level.ERROR, "pipes: the listening socket " + socketPath + " was closed; no longer accepting", e);
          return;
        }
        failures++;
        backoffMillis = backoffMillis == 0 ? MIN_ACCEPT_BACKOFF_MILLIS
            : Math.min(MAX_ACCEPT_BACKOFF_MILLIS, backoffMillis * 2);
        long now = System.nanoTime();
        if (failures == 1 || now - lastLogged > ACCEPT_FAILURE_LOG_INTERVAL_NANOS) {
          lastLogged = now;
          log(Level.ERROR, "pipes: accept failed on " + socketPath + " (" + failures
              + (failures == 1 ? " failure" : " failures in a row") + "); retrying every " + backoffMillis
              + " ms at most until it works again or the server is closed", e);
        }
        LockSupport.parkNanos(this, TimeUnit.MILLISECONDS.toNanos(backoffMillis)); // close() unparks us
        continue;
      }
      if (failures > 0) {
        log(Level.WARNING, "pipes: accepting on " + socketPath + " again after " + failures + " failed attempts",
            null);
        failures = 0;
        backoffMillis = 0;
      }
      try {
        admit(ch);
      } catch (Throwable e) { // e.g. no thread could be started: drop this one, keep accepting
        closeQuietly(ch);
        log(Level.ERROR, "pipes: could not start a handshake on " + socketPath + "; dropped the connection", e);
      }
    }
  }

  /** Takes a handshake slot for {@code ch} (making room if needed) and starts its handshake. */
  private void admit(SocketChannel ch) {
    Pending p = new Pending(ch);
    Pending victim = null;
    boolean admitted = true;
    synchronized (pending) {
      if (closed.get()) {
        admitted = false;
      } else if (pending.size() >= MAX_PENDING_HANDSHAKES) {
        for (Iterator<Pending> it = pending.iterator(); it.hasNext(); ) {
          Pending old = it.next();
          if (!old.answered) {
            it.remove();
            victim = old;
            break;
          }
        }
        admitted = victim != null; // every slot is busy with an answered handshake: a moment's work
      }
      if (admitted) {
        pending.addLast(p);
      }
    }
    if (victim != null) {
      victim.evicted = true;
      evictions.incrementAndGet();
      closeQuietly(victim.channel);
    }
    if (!admitted) {
      closeQuietly(ch);
      return;
    }
    try {
      Thread t = new Thread(() -> handshake(p), "procpool-pipes-handshake-" + HANDSHAKE_IDS.incrementAndGet());
      t.setDaemon(true);
      t.start();
    } catch (Throwable e) {
      release(p);
      throw e;
    }
  }

  private void release(Pending p) {
    synchronized (pending) {
      pending.remove(p);
    }
  }

  /** Logs without ever throwing: this runs on the accept thread, which must not die. */
  private static void log(Level level, String message, Throwable error) {
    try {
      if (error == null) {
        LOG.log(level, message);
      } else {
        LOG.log(level, message, error);
      }
    } catch (Throwable ignored) {
      // A broken log handler, or no memory to format the message: accepting matters more.
    }
  }

  private void handshake(Pending p) {
    SocketChannel ch = p.channel;
    boolean ok = false;
    try {
      Timeouts.Deadline deadline = Timeouts.closeAfter(ch, handshakeTimeoutMillis);
      try {
        Handshake.serverSide(ch, authKey, () -> p.answered = true);
        ok = !deadline.cancel();
      } catch (IOException | RuntimeException e) {
        deadline.cancel();
        String why = deadline.expired() ? "handshake timed out after " + handshakeTimeoutMillis + " ms"
            : p.evicted ? "dropped while it had not answered, to make room for a newer connection (all "
                + MAX_PENDING_HANDSHAKES + " handshake slots were taken)"
            : e.getMessage();
        log(Level.DEBUG, "pipes: refused a connection on " + socketPath + ": " + why, null);
      }
    } finally {
      release(p);
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
    LockSupport.unpark(acceptThread);
    List<Pending> inProgress;
    synchronized (pending) {
      inProgress = new ArrayList<>(pending);
    }
    for (Pending p : inProgress) {
      closeQuietly(p.channel);
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
