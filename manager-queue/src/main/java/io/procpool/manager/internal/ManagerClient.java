package io.procpool.manager.internal;

import io.procpool.api.ManagerUnreachableException;
import io.procpool.api.ProcPoolException;
import io.procpool.api.spi.Connection;
import io.procpool.api.spi.MessageTooLargeException;
import io.procpool.api.spi.ProtocolException;
import io.procpool.api.spi.TransportOptions;
import io.procpool.api.spi.TransportProvider;
import io.procpool.api.spi.TransportRegistry;
import io.procpool.core.internal.Secrets;
import io.procpool.core.internal.process.PropertyLines;
import io.procpool.manager.internal.ManagerProtocol.Answer;
import io.procpool.manager.internal.ManagerProtocol.Cancel;
import io.procpool.manager.internal.ManagerProtocol.Pin;
import io.procpool.manager.internal.ManagerProtocol.Ref;
import io.procpool.manager.internal.ManagerProtocol.Request;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
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
 *
 * <p>References: the client counts the live proxies of each queue in this JVM. The manager counts
 * them per connection, so when a broken connection is reopened the client sends one RETAIN per live
 * proxy again. Creating a client registers its key in this JVM's {@link Secrets}, where deserialized
 * proxies find it by fingerprint.
 */
public final class ManagerClient {
  /** How long beyond its own timeout a call waits for the manager's answer. */
  static final long SAFETY_NANOS = TimeUnit.SECONDS.toNanos(10);
  /** How long an interrupted call waits for the answer to its cancellation. */
  private static final long CANCEL_WAIT_NANOS = TimeUnit.SECONDS.toNanos(2);

  private static final ConcurrentHashMap<Key, ManagerClient> CLIENTS = new ConcurrentHashMap<>();

  /** One client per manager, key and transport settings in this JVM. */
  private record Key(String transport, String address, ByteBuffer authKey, Map<String, String> properties) {}

  private final String transport;
  private final String address;
  private final byte[] authKey;
  private final byte[] keyFingerprint;
  private final int maxFrameSize = TransportOptions.DEFAULT_MAX_FRAME_SIZE;
  private final Map<String, String> properties;
  private final Object connectLock = new Object();
  private volatile Link link;
  /** Whether a connection was opened before (then a new one re-sends this JVM's references). */
  private boolean connectedBefore;
  /** Until when ({@code nanoTime}) the last PIN sent for a queue keeps it. */
  private final ConcurrentHashMap<Long, Long> pinnedUntil = new ConcurrentHashMap<>();
  /** Live proxies in this JVM, by queue id. */
  private final ConcurrentHashMap<Long, AtomicInteger> liveRefs = new ConcurrentHashMap<>();

  private ManagerClient(String transport, String address, byte[] authKey, Map<String, String> properties) {
    this.transport = transport;
    this.address = address;
    this.authKey = authKey.clone();
    this.keyFingerprint = Secrets.register(authKey);
    this.properties = Map.copyOf(properties);
  }

  /**
   * The shared client of a manager, connecting without transport properties; registers its key in
   * this JVM's {@link Secrets}.
   */
  public static ManagerClient of(String transport, String address, byte[] authKey) {
    return of(transport, address, authKey, Map.of());
  }

  /**
   * The shared client of a manager with these transport settings (e.g. TLS trust). Without settings,
   * a client this JVM already has with settings for the same manager and key is reused (the JVM that
   * started a TLS manager, or connected to it with trust, reaches it again by address and key alone).
   */
  public static ManagerClient of(String transport, String address, byte[] authKey, Map<String, String> properties) {
    ByteBuffer k = ByteBuffer.wrap(authKey.clone());
    if (properties.isEmpty()) {
      for (Map.Entry<Key, ManagerClient> e : CLIENTS.entrySet()) {
        Key other = e.getKey();
        if (!other.properties().isEmpty() && other.transport().equals(transport) && other.address().equals(address)
            && other.authKey().equals(k)) {
          return e.getValue();
        }
      }
    }
    Key key = new Key(transport, address, k, Map.copyOf(properties));
    return CLIENTS.computeIfAbsent(key, x -> new ManagerClient(transport, address, authKey, properties));
  }

  /** The transport properties this client connects with. */
  Map<String, String> properties() {
    return properties;
  }

  /** The properties as one text (see {@link PropertyLines}), as a serialized proxy carries them. */
  static String flatten(Map<String, String> p) {
    return PropertyLines.append(new StringBuilder(), p).toString();
  }

  /** The inverse of {@link #flatten}; {@code null} is no properties. */
  static Map<String, String> unflatten(String text) {
    Map<String, String> p = new java.util.HashMap<>();
    if (text != null) {
      for (String line : text.split("\n")) {
        Map.Entry<String, String> e = PropertyLines.parse(line);
        if (e != null) {
          p.put(e.getKey(), e.getValue());
        }
      }
    }
    return p;
  }

  /** The fingerprint of the key (see {@link Secrets#fingerprint}), which serialized proxies carry. */
  byte[] keyFingerprint() {
    return keyFingerprint.clone();
  }

  /** The largest message this client sends or accepts. */
  int maxFrameSize() {
    return maxFrameSize;
  }

  /** The largest encoded item a put may carry. */
  int maxItemBytes() {
    return ManagerProtocol.maxItemBytes(maxFrameSize);
  }

  // ------------------------------------------------------------------ references

  /** A proxy made from an OPEN answer: the manager counted its reference already. */
  void opened(long queueId) {
    liveRefs.computeIfAbsent(queueId, k -> new AtomicInteger()).incrementAndGet();
  }

  /** A deserialized proxy: one more reference, sent without waiting. */
  void retain(long queueId) {
    liveRefs.computeIfAbsent(queueId, k -> new AtomicInteger()).incrementAndGet();
    Link l;
    try {
      l = link();
    } catch (ManagerUnreachableException e) {
      return; // the proxy's first call reports it
    }
    sendQuietly(l, new Ref(ManagerProtocol.RETAIN, queueId));
  }

  /**
   * A proxy closed or collected: one reference less, sent without waiting. Never connects: if the
   * connection ended, the manager dropped this JVM's references with it.
   */
  void release(long queueId) {
    if (liveRefs.computeIfPresent(queueId, (k, n) -> n.decrementAndGet() <= 0 ? null : n) == null) {
      pinnedUntil.remove(queueId);
    }
    Link l = link;
    if (l != null && !l.closed) {
      sendQuietly(l, new Ref(ManagerProtocol.RELEASE, queueId));
    }
  }

  /**
   * A proxy is being serialized: keeps the queue for {@code millis} even without references. A PIN
   * is sent at most once per tenth of {@code millis} per queue (a map whose every argument carries the
   * proxy costs a few messages, not one per item), so the queue is kept at least 90% of {@code millis}
   * after any serialization.
   */
  void pin(long queueId, long millis) {
    long now = System.nanoTime();
    long until = now + TimeUnit.MILLISECONDS.toNanos(millis);
    long slack = TimeUnit.MILLISECONDS.toNanos(millis) / 10;
    Long sent = pinnedUntil.get(queueId);
    if (sent != null && sent - until >= -slack) {
      return; // a recent PIN keeps the queue about as long
    }
    pinnedUntil.put(queueId, until);
    sendQuietly(link(), new Pin(queueId, millis));
  }

  private static void sendQuietly(Link l, Request r) {
    l.connection.write(r.encode(0));
    try {
      l.connection.flush();
    } catch (IOException e) {
      // the connection ended: onClosed handles it
    }
  }

  /** Forgets this client (its manager has exited); proxies that still hold it fail fast. */
  void discard() {
    CLIENTS.remove(new Key(transport, address, ByteBuffer.wrap(authKey), properties), this);
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
      if (connectedBefore) {
        // The manager dropped the references of the old connection: hold the live proxies' again.
        for (Map.Entry<Long, AtomicInteger> e : liveRefs.entrySet()) {
          for (int i = e.getValue().get(); i > 0; i--) {
            c.write(new Ref(ManagerProtocol.RETAIN, e.getKey()).encode(0));
          }
        }
        try {
          c.flush();
        } catch (IOException e) {
          // onClosed handles it
        }
      }
      connectedBefore = true;
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
    if (req.remaining() > maxFrameSize) {
      // Refused here, before anything is pending or sent: only this call fails.
      throw new MessageTooLargeException(req.remaining(), maxFrameSize, "a " + ManagerProtocol.opName(request.op())
          + " request to the manager at " + displayAddress());
    }
    CompletableFuture<Answer> f = new CompletableFuture<>();
    l.pending.put(id, f);
    if (l.closed) {
      l.pending.remove(id);
      throw l.failure();
    }
    try {
      l.connection.write(req);
    } catch (RuntimeException e) {
      l.pending.remove(id);
      throw e;
    }
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
