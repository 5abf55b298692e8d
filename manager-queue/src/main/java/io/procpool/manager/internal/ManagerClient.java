package io.procpool.manager.internal;

import io.procpool.api.ManagerUnreachableException;
import io.procpool.api.ProcPoolException;
import io.procpool.api.spi.Connection;
import io.procpool.api.spi.ProtocolException;
import io.procpool.api.spi.TransportOptions;
import io.procpool.api.spi.TransportProvider;
import io.procpool.api.spi.TransportRegistry;
import io.procpool.manager.internal.ManagerProtocol.Answer;
import io.procpool.manager.internal.ManagerProtocol.Cancel;
import io.procpool.manager.internal.ManagerProtocol.Request;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The client side of the {@link ManagerProtocol}: one per (JVM, manager address, key), shared by every
 * proxy of that manager in this JVM. The connection is opened on first use and reopened by the
 * next call after it broke; the transport's reader thread completes the pending calls by request
 * id. When the connection ends, every pending call fails at once with
 * {@link ManagerUnreachableException}; a later call tries to connect once and fails fast if the
 * manager is gone.
 *
 * <p>Client-side waits are bounded too: an immediate op waits at most {@link #SAFETY_NANOS}, a timed
 * op its timeout plus that, so a manager that stops answering (without dying) fails calls rather
 * than hanging them; only untimed {@code get}/{@code put}/{@code join} rely on the connection's end.
 */
public final class ManagerClient {
  /** How long beyond its own timeout a call waits for the manager's answer. */
  static final long SAFETY_NANOS = TimeUnit.SECONDS.toNanos(10);
  /** How long an interrupted call waits for the answer to its cancellation. */
  private static final long CANCEL_WAIT_NANOS = TimeUnit.SECONDS.toNanos(2);

  private static final ConcurrentHashMap<Key, ManagerClient> CLIENTS = new ConcurrentHashMap<>();

  private record Key(String transport, String address, ByteBuffer authKey) {}

  private final String transport;
  private final String address;
  private final byte[] authKey;
  private final Map<String, String> properties;
  private final Object connectLock = new Object();
  private volatile Link link;

  private ManagerClient(String transport, String address, byte[] authKey, Map<String, String> properties) {
    this.transport = transport;
    this.address = address;
    this.authKey = authKey.clone();
    this.properties = Map.copyOf(properties);
  }

  /** The shared client of a manager, connecting without transport properties. */
  public static ManagerClient of(String transport, String address, byte[] authKey) {
    return of(transport, address, authKey, Map.of());
  }

  /**
   * The shared client of a manager; {@code properties} (e.g. TLS trust) are used when this call creates
   * it.
   */
  public static ManagerClient of(String transport, String address, byte[] authKey, Map<String, String> properties) {
    Key key = new Key(transport, address, ByteBuffer.wrap(authKey.clone()));
    return CLIENTS.computeIfAbsent(key, k -> new ManagerClient(transport, address, authKey, properties));
  }

  /** The transport properties this client connects with. */
  Map<String, String> properties() {
    return properties;
  }

  static String[] flatten(Map<String, String> p) {
    String[] a = new String[p.size() * 2];
    int i = 0;
    for (Map.Entry<String, String> e : p.entrySet()) {
      a[i++] = e.getKey();
      a[i++] = e.getValue();
    }
    return a;
  }

  static Map<String, String> unflatten(String[] a) {
    Map<String, String> p = new java.util.HashMap<>();
    for (int i = 0; a != null && i + 1 < a.length; i += 2) {
      p.put(a[i], a[i + 1]);
    }
    return p;
  }

  /** Forgets this client (its manager has exited); proxies that still hold it fail fast. */
  void discard() {
    CLIENTS.remove(new Key(transport, address, ByteBuffer.wrap(authKey)), this);
  }

  /** {@code "<transport>:<address>"}, as {@code Manager.address()} shows it. */
  public String displayAddress() {
    return transport + ":" + address;
  }

  String transport() {
    return transport;
  }

  String address() {
    return address;
  }

  byte[] authKey() {
    return authKey.clone();
  }

  /** Connects now if not connected. */
  public void ensureConnected() {
    link();
  }

  private Link link() {
    Link l = link;
    if (l != null && !l.closed) {
      return l;
    }
    synchronized (connectLock) {
      l = link;
      if (l != null && !l.closed) {
        return l;
      }
      TransportProvider provider = TransportRegistry.get(transport);
      Connection c;
      try {
        c = provider.connect(address, new TransportOptions(authKey, TransportOptions.DEFAULT_MAX_FRAME_SIZE, null,
            properties));
      } catch (ProtocolException e) {
        throw new ManagerUnreachableException("the manager at " + displayAddress()
            + " refused the connection (wrong auth key?): " + e.getMessage(), displayAddress(), e);
      } catch (IOException | RuntimeException e) {
        throw new ManagerUnreachableException("cannot reach the manager at " + displayAddress()
            + " (has it exited?): " + e.getMessage(), displayAddress(), e);
      }
      l = new Link(c);
      c.start(l);
      link = l;
      return l;
    }
  }

  /**
   * Sends one request and waits for its answer. The request's own timeout as sent
   * ({@link Request#timeoutNanos()}, {@link ManagerProtocol#FOREVER} for none) bounds the client-side
   * wait together with {@link #SAFETY_NANOS}.
   *
   * @return the answer; {@link ManagerProtocol#CANCELLED} when the thread was interrupted and the call
   *     withdrawn (the interrupt status is then set)
   */
  Answer call(Request request) {
    return call(request, SAFETY_NANOS);
  }

  /** {@link #call(Request)} with another safety margin. */
  Answer call(Request request, long safetyNanos) {
    long opTimeoutNanos = request.timeoutNanos();
    Link l = link();
    long id = l.ids.incrementAndGet();
    ByteBuffer req = request.encode(id);
    CompletableFuture<Answer> f = new CompletableFuture<>();
    l.pending.put(id, f);
    if (l.closed) {
      l.pending.remove(id);
      throw l.failure();
    }
    l.connection.write(req);
    try {
      l.connection.flush();
    } catch (IOException e) {
      // onClosed fails the future.
    }
    try {
      if (opTimeoutNanos < 0) {
        return unwrap(f::get);
      }
      long bound = opTimeoutNanos + safetyNanos;
      return unwrap(() -> f.get(bound, TimeUnit.NANOSECONDS));
    } catch (InterruptedException e) {
      return cancelAfterInterrupt(l, id, f);
    } catch (TimeoutException e) {
      l.pending.remove(id);
      throw new ManagerUnreachableException("the manager at " + displayAddress() + " did not answer within "
          + TimeUnit.NANOSECONDS.toMillis(opTimeoutNanos + safetyNanos) + " ms", displayAddress(), e);
    }
  }

  private Answer cancelAfterInterrupt(Link l, long id, CompletableFuture<Answer> f) {
    l.connection.write(new Cancel(id).encode(0));
    try {
      l.connection.flush();
    } catch (IOException ignored) {
      // the future fails
    }
    long deadline = System.nanoTime() + CANCEL_WAIT_NANOS;
    try {
      while (true) {
        try {
          return unwrap(() -> f.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS));
        } catch (InterruptedException again) {
          // keep waiting: the answer decides whether an item was taken
        } catch (TimeoutException e) {
          l.pending.remove(id);
          throw new ManagerUnreachableException("the manager at " + displayAddress()
              + " did not answer a cancellation", displayAddress(), e);
        }
      }
    } finally {
      Thread.currentThread().interrupt();
    }
  }

  private interface Wait {
    Answer get() throws InterruptedException, ExecutionException, TimeoutException;
  }

  private static Answer unwrap(Wait w) throws InterruptedException, TimeoutException {
    try {
      return w.get();
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      if (cause instanceof ManagerUnreachableException) {
        ManagerUnreachableException m = (ManagerUnreachableException) cause;
        // A fresh exception, so that the stack trace shows the caller.
        throw new ManagerUnreachableException(m.getMessage(), m.managerAddress(), m);
      }
      throw new ProcPoolException("manager call failed: " + cause, cause);
    }
  }

  /** One connection and its pending calls. */
  private final class Link implements Connection.Listener {
    final Connection connection;
    final ConcurrentHashMap<Long, CompletableFuture<Answer>> pending = new ConcurrentHashMap<>();
    final AtomicLong ids = new AtomicLong();
    volatile boolean closed;
    volatile Throwable closeCause;

    Link(Connection connection) {
      this.connection = connection;
    }

    ManagerUnreachableException failure() {
      Throwable cause = closeCause;
      return new ManagerUnreachableException("the connection to the manager at " + displayAddress()
          + " ended" + (cause == null ? " (manager exited or shut down)" : ": " + cause), displayAddress(), cause);
    }

    @Override
    public void onMessage(ByteBuffer message) {
      Answer a = ManagerProtocol.decodeAnswer(message);
      CompletableFuture<Answer> f = pending.remove(a.requestId());
      if (f != null) {
        f.complete(a);
      }
    }

    @Override
    public void onClosed(Throwable cause) {
      closeCause = cause;
      closed = true;
      ManagerUnreachableException failure = failure();
      for (Long id : pending.keySet()) {
        CompletableFuture<Answer> f = pending.remove(id);
        if (f != null) {
          f.completeExceptionally(failure);
        }
      }
    }
  }
}
