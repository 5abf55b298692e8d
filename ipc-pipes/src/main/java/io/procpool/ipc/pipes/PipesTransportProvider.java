package io.procpool.ipc.pipes;

import io.procpool.api.spi.Connection;
import io.procpool.api.spi.TransportOptions;
import io.procpool.api.spi.TransportProvider;
import io.procpool.api.spi.TransportServer;
import java.io.IOException;
import java.net.SocketTimeoutException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * The {@code "pipes"} transport, procpool's default: length-prefixed binary frames over UNIX-domain
 * sockets, authenticated with an HMAC-SHA256 challenge on the pool's auth key.
 *
 * <p>The server listens on {@code pool.sock} in a fresh private ({@code 0700}) temporary directory,
 * or on {@link TransportOptions#listenAddress()} when one is given (a socket path whose parent
 * directory exists). {@link TransportServer#address()} is the absolute socket path.
 *
 * <p>Wire format: a mutually authenticated handshake (protocol version 2: the server sends
 * {@code "PPIP"}, the version as a big-endian u16 and a 32-byte random nonce; the client answers with
 * the same magic and version, its own nonce and an HMAC-SHA256 proof of the key over both nonces; the
 * server replies one status byte followed by its own proof over both nonces, or by a u16-length UTF-8
 * reason when it refuses), then frames of a 4-byte big-endian length and that many payload bytes.
 * {@link #connect} returns only once the server has proved the key; an endpoint that cannot is
 * reported with a {@link io.procpool.api.spi.ProtocolException}, as is a peer speaking another
 * handshake version.
 *
 * <p>Interrupts: a thread interrupted while it writes or flushes leaves the connection open (the
 * socket is used in non-blocking mode; waits happen in a selector) and keeps its interrupt flag.
 *
 * <p>Properties read from {@link TransportOptions#properties()}: {@code pipes.handshakeTimeoutMillis}
 * (default 10000), how long either side waits for the other's handshake before closing the socket.
 */
public final class PipesTransportProvider extends TransportProvider {
  /** The property that overrides the handshake deadline, in milliseconds. */
  static final String HANDSHAKE_TIMEOUT_PROPERTY = "pipes.handshakeTimeoutMillis";
  static final long DEFAULT_HANDSHAKE_TIMEOUT_MILLIS = 10_000;
  /** UNIX socket paths are limited to about 108 bytes (104 on macOS); stay below both. */
  private static final int MAX_SOCKET_PATH_BYTES = 100;

  /** Creates the provider; called by {@link java.util.ServiceLoader}. */
  public PipesTransportProvider() {}

  @Override
  public String name() {
    return "pipes";
  }

  @Override
  public boolean isAvailable() {
    return Availability.AVAILABLE;
  }

  @Override
  public TransportServer listen(TransportOptions options, TransportServer.Acceptor acceptor) throws IOException {
    long timeout = handshakeTimeout(options);
    if (options.listenAddress().isPresent()) {
      Path path = Path.of(options.listenAddress().get()).toAbsolutePath();
      return PipesServer.open(path, null, options.authKey(), options.maxFrameSize(), timeout, acceptor);
    }
    Path dir = createPrivateDirectory();
    try {
      return PipesServer.open(dir.resolve("pool.sock"), dir, options.authKey(), options.maxFrameSize(), timeout,
          acceptor);
    } catch (IOException | RuntimeException e) {
      try {
        Files.deleteIfExists(dir);
      } catch (IOException suppressed) {
        e.addSuppressed(suppressed);
      }
      throw e;
    }
  }

  @Override
  public Connection connect(String address, TransportOptions options) throws IOException {
    long timeout = handshakeTimeout(options);
    SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
    try {
      ch.connect(UnixDomainSocketAddress.of(address));
    } catch (IOException | RuntimeException e) {
      ch.close();
      throw new IOException("pipes: cannot connect to " + address + ": " + e.getMessage(), e);
    }
    Timeouts.Deadline deadline = Timeouts.closeAfter(ch, timeout);
    try {
      Handshake.clientSide(ch, options.authKey(), address);
    } catch (IOException | RuntimeException e) {
      boolean expired = deadline.cancel();
      ch.close();
      if (expired) {
        throw timedOut(address, timeout);
      }
      throw e;
    }
    if (deadline.cancel()) {
      ch.close();
      throw timedOut(address, timeout);
    }
    try {
      return new PipesConnection(ch, options.maxFrameSize(), "unix:" + address, c -> {});
    } catch (IOException | RuntimeException e) {
      ch.close();
      throw e;
    }
  }

  private static SocketTimeoutException timedOut(String address, long timeout) {
    return new SocketTimeoutException("pipes: " + address + " did not complete the handshake within " + timeout
        + " ms");
  }

  static long handshakeTimeout(TransportOptions options) {
    String value = options.properties().get(HANDSHAKE_TIMEOUT_PROPERTY);
    if (value == null) {
      return DEFAULT_HANDSHAKE_TIMEOUT_MILLIS;
    }
    try {
      long millis = Long.parseLong(value.trim());
      if (millis > 0) {
        return millis;
      }
    } catch (NumberFormatException ignored) {
      // Reported below.
    }
    throw new IllegalArgumentException(HANDSHAKE_TIMEOUT_PROPERTY + " must be a positive number of milliseconds, got "
        + value);
  }

  /** A new temporary directory that only this user can enter, its permissions set at creation. */
  private static Path createPrivateDirectory() throws IOException {
    Path dir = createTempDirectory(null);
    if (dir.resolve("pool.sock").toString().getBytes(StandardCharsets.UTF_8).length > MAX_SOCKET_PATH_BYTES) {
      // java.io.tmpdir is too deep for a socket path (common on macOS): use /tmp instead.
      Path tmp = Path.of("/tmp");
      if (Files.isDirectory(tmp)) {
        Files.delete(dir);
        dir = createTempDirectory(tmp);
      }
    }
    return dir;
  }

  private static Path createTempDirectory(Path parent) throws IOException {
    try {
      var attr = PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------"));
      return parent == null
          ? Files.createTempDirectory("procpool-", attr)
          : Files.createTempDirectory(parent, "procpool-", attr);
    } catch (UnsupportedOperationException e) {
      // Not a POSIX file system (Windows): the per-user temporary directory is already private.
      return parent == null ? Files.createTempDirectory("procpool-") : Files.createTempDirectory(parent, "procpool-");
    }
  }

  /** Probes once whether this JVM and OS support UNIX-domain sockets. */
  private static final class Availability {
    static final boolean AVAILABLE = probe();

    private static boolean probe() {
      try {
        SocketChannel.open(StandardProtocolFamily.UNIX).close();
        return true;
      } catch (Exception | LinkageError e) {
        return false;
      }
    }
  }
}
