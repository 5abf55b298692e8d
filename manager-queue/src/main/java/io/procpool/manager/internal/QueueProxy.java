package io.procpool.manager.internal;

import io.procpool.api.ManagedQueue;
import io.procpool.api.ProcPoolException;
import io.procpool.api.QueueEmptyException;
import io.procpool.api.QueueFullException;
import io.procpool.manager.internal.ManagerProtocol.Answer;
import io.procpool.manager.internal.ManagerProtocol.Drain;
import io.procpool.manager.internal.ManagerProtocol.Put;
import io.procpool.manager.internal.ManagerProtocol.QueueAndTimeout;
import io.procpool.manager.internal.ManagerProtocol.QueueOnly;
import io.procpool.manager.internal.ManagerProtocol.QueueRequest;
import io.procpool.core.internal.Items;
import io.procpool.core.internal.Secrets;
import java.io.IOException;
import java.io.InvalidObjectException;
import java.io.NotSerializableException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.lang.ref.Cleaner;
import java.lang.ref.Reference;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The {@link ManagedQueue} proxy: the manager's transport and address, the fingerprint of its key
 * (never the key: see {@link Secrets}) and the queue's id.
 *
 * <p>Each proxy object holds one reference to its queue in the manager: taken by OPEN or, for a
 * deserialized proxy, by a RETAIN sent while it is read; given back by {@link #close()} or, once the
 * proxy is garbage-collected, by a {@link Cleaner}. Serializing a proxy PINs its queue for
 * {@link #transitGraceMillis()} so that a proxy in transit keeps it alive after every live proxy is
 * gone.
 */
final class QueueProxy<E> implements ManagedQueue<E> {
  private static final long serialVersionUID = 3L;

  /** How long a serialized proxy keeps its queue alive without references, by default. */
  static final long DEFAULT_TRANSIT_GRACE_MILLIS = TimeUnit.MINUTES.toMillis(5);
  /** A system property that overrides {@link #DEFAULT_TRANSIT_GRACE_MILLIS} (in the serializing JVM). */
  static final String TRANSIT_GRACE_PROPERTY = "procpool.manager.transitGraceMillis";

  private static final Cleaner CLEANER = Cleaner.create();

  private final String transport;
  private final String address;
  private final byte[] keyFingerprint;
  /** The client's transport properties (e.g. trust in the manager's TLS certificate), as property lines. */
  private final String transportProperties;
  private final long queueId;
  private final String name;
  private final int maxsize;
  private transient volatile ManagerClient client;
  private transient volatile Hold hold;

  QueueProxy(ManagerClient client, long queueId, String name, int maxsize) {
    this.transport = client.transport();
    this.address = client.address();
    this.keyFingerprint = client.keyFingerprint();
    this.transportProperties = ManagerClient.flatten(client.properties());
    this.queueId = queueId;
    this.name = name;
    this.maxsize = maxsize;
    this.client = client;
    client.opened(queueId);
    this.hold = new Hold(client, queueId);
    this.hold.cleanable = CLEANER.register(this, hold);
  }

  /**
   * The one reference a proxy object holds; released once, by close() or by the Cleaner. Must not
   * refer to the proxy.
   */
  private static final class Hold implements Runnable {
    final ManagerClient client;
    final long queueId;
    final AtomicBoolean released = new AtomicBoolean();
    Cleaner.Cleanable cleanable;

    Hold(ManagerClient client, long queueId) {
      this.client = client;
      this.queueId = queueId;
    }

    /**
     * Releases the reference. Synchronized with {@link QueueProxy#writeObject}'s check-and-PIN, so a
     * serialization racing with close() either fails or has its PIN on the wire before the RELEASE:
     * the manager never frees a queue whose proxy is in transit.
     */
    @Override
    public synchronized void run() {
      if (released.compareAndSet(false, true)) {
        try {
          client.release(queueId);
        } catch (RuntimeException e) {
          // The manager is gone or the connection ended: it dropped the reference itself.
        }
      }
    }
  }

  static long transitGraceMillis() {
    String v = System.getProperty(TRANSIT_GRACE_PROPERTY);
    if (v != null) {
      try {
        return Math.max(0, Long.parseLong(v.trim()));
      } catch (NumberFormatException e) {
        // the default
      }
    }
    return DEFAULT_TRANSIT_GRACE_MILLIS;
  }

  private ManagerClient client() {
    if (hold.released.get()) {
      throw new IllegalStateException("this proxy of " + describeWithoutClient() + " is closed: use a proxy "
          + "that is still open, or get a new one from the manager");
    }
    return client;
  }

  private String describeWithoutClient() {
    return "queue " + (name.isEmpty() ? "#" + queueId : "'" + name + "'") + " of the manager at " + transport + ":"
        + address;
  }

  /**
   * Gives this proxy's reference back to the manager; an anonymous queue is freed when no proxy
   * references it any more. Idempotent.
   */
  @Override
  public void close() {
    hold.cleanable.clean();
  }

  private void writeObject(ObjectOutputStream out) throws IOException {
    Hold h = hold;
    synchronized (h) { // against a concurrent close(): see Hold.run
      if (h.released.get()) {
        throw new NotSerializableException("a closed ManagedQueue proxy (" + describeWithoutClient()
            + ") cannot be serialized");
      }
      try {
        client.pin(queueId, transitGraceMillis());
      } catch (RuntimeException e) {
        // The manager is unreachable: the receiver's first call will say so.
      }
    }
    out.defaultWriteObject();
  }

  private void readObject(ObjectInputStream in) throws IOException, ClassNotFoundException {
    in.defaultReadObject();
    if (transport == null || address == null || keyFingerprint == null || name == null) {
      throw new InvalidObjectException("a ManagedQueue proxy with missing fields");
    }
    byte[] key = Secrets.lookup(keyFingerprint);
    if (key == null) {
      throw new InvalidObjectException("cannot read a proxy of " + describeWithoutClient() + ": this JVM does not "
          + "know the manager's key (proxies do not carry it); connect with Manager.connect(address, key) first");
    }
    ManagerClient c = ManagerClient.of(transport, address, key, ManagerClient.unflatten(transportProperties));
    this.client = c;
    this.hold = new Hold(c, queueId);
    c.retain(queueId);
    this.hold.cleanable = CLEANER.register(this, hold);
  }

  private String describe() {
    return describeWithoutClient();
  }

  private String displayAddress() {
    return transport + ":" + address;
  }

  private static long nanos(Duration timeout) {
    if (timeout.isNegative()) {
      throw new IllegalArgumentException("timeout must not be negative, got " + timeout);
    }
    try {
      return timeout.toNanos();
    } catch (ArithmeticException e) {
      return Long.MAX_VALUE / 4; // centuries: as good as forever, and the bound stays finite
    }
  }

  // ------------------------------------------------------------------ put

  @Override
  public void put(E item) {
    doPut(item, ManagerProtocol.FOREVER, null);
  }

  @Override
  public void put(E item, Duration timeout) {
    doPut(item, nanos(timeout), timeout);
  }

  @Override
  public void putNowait(E item) {
    doPut(item, 0, Duration.ZERO);
  }

  /** Returns normally, or throws QueueFullException / InterruptedCall. */
  void doPut(E item, long timeoutNanos, Duration shown) {
    ManagerClient c = client();
    byte[] bytes = Items.encode(item);
    if (bytes.length > c.maxItemBytes()) {
      throw new IllegalArgumentException("cannot put an item of " + bytes.length + " bytes (encoded) into "
          + describe() + ": the limit is " + c.maxItemBytes() + " bytes (maxFrameSize " + c.maxFrameSize()
          + " minus the protocol's headers)");
    }
    Answer a;
    try {
      a = c.call(new Put(queueId, timeoutNanos, bytes));
    } finally {
      Reference.reachabilityFence(this); // the Cleaner must not release the queue during the call
    }
    switch (a.status()) {
      case ManagerProtocol.OK:
        return;
      case ManagerProtocol.FULL:
        throw new QueueFullException(describe() + " is full (maxsize " + maxsize + ")"
            + (timeoutNanos > 0 ? " after waiting " + shown : ""), displayAddress());
      default:
        throw failure(a);
    }
  }

  // ------------------------------------------------------------------ get

  @Override
  public E get() {
    return doGet(ManagerProtocol.FOREVER, null);
  }

  @Override
  public E get(Duration timeout) {
    return doGet(nanos(timeout), timeout);
  }

  @Override
  public E getNowait() {
    return doGet(0, Duration.ZERO);
  }

  E doGet(long timeoutNanos, Duration shown) {
    Answer a;
    try {
      a = client().call(new QueueAndTimeout(ManagerProtocol.GET, queueId, timeoutNanos));
    } finally {
      Reference.reachabilityFence(this);
    }
    switch (a.status()) {
      case ManagerProtocol.OK:
        return Items.decode(a.payload());
      case ManagerProtocol.EMPTY:
        throw new QueueEmptyException(describe() + " is empty"
            + (timeoutNanos > 0 ? " after waiting " + shown : ""), displayAddress());
      default:
        throw failure(a);
    }
  }

  /** The head item's bytes without removing it, or null if the queue is empty. */
  byte[] peekBytes() {
    Answer a;
    try {
      a = client().call(new QueueOnly(ManagerProtocol.PEEK, queueId));
    } finally {
      Reference.reachabilityFence(this);
    }
    switch (a.status()) {
      case ManagerProtocol.OK:
        return a.payload();
      case ManagerProtocol.EMPTY:
        return null;
      default:
        throw failure(a);
    }
  }

  /** Removes up to {@code max} items at once (as many as fit in one message). */
  List<byte[]> drainBytes(int max) {
    return ManagerProtocol.decodeItems(simple(new Drain(queueId, max)));
  }

  /**
   * Copies the items without removing them: in one message when they fit, else page by page (then
   * items taken or added between pages may be missed or seen twice, as for any weakly consistent
   * iterator).
   */
  List<byte[]> snapshotBytes() {
    List<byte[]> all = new java.util.ArrayList<>();
    while (true) {
      ManagerProtocol.SnapshotPage page =
          ManagerProtocol.decodeSnapshotPage(simple(new ManagerProtocol.Snapshot(queueId, all.size())));
      all.addAll(page.items());
      if (page.items().isEmpty() || all.size() >= page.size()) {
        return all;
      }
    }
  }

  // ------------------------------------------------------------------ state

  @Override
  public int qsize() {
    return ManagerProtocol.decodeSize(simple(new QueueOnly(ManagerProtocol.QSIZE, queueId)));
  }

  @Override
  public boolean empty() {
    return ManagerProtocol.decodeFlag(simple(new QueueOnly(ManagerProtocol.EMPTY_Q, queueId)));
  }

  @Override
  public boolean full() {
    return ManagerProtocol.decodeFlag(simple(new QueueOnly(ManagerProtocol.FULL_Q, queueId)));
  }

  @Override
  public int maxsize() {
    return maxsize;
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public void taskDone() {
    simple(new QueueOnly(ManagerProtocol.TASK_DONE, queueId));
  }

  @Override
  public void join() {
    simple(new QueueAndTimeout(ManagerProtocol.JOIN, queueId, ManagerProtocol.FOREVER));
  }

  @Override
  public BlockingQueue<E> asBlockingQueue() {
    return new BlockingQueueView<>(this);
  }

  /** Sends a request that has one good outcome; returns that OK answer's payload. */
  private byte[] simple(QueueRequest request) {
    Answer a;
    try {
      a = client().call(request);
    } finally {
      Reference.reachabilityFence(this);
    }
    if (a.status() != ManagerProtocol.OK) {
      throw failure(a);
    }
    return a.payload();
  }

  private RuntimeException failure(Answer a) {
    switch (a.status()) {
      case ManagerProtocol.CANCELLED:
        return new InterruptedCallException(describe() + ": interrupted while waiting");
      case ManagerProtocol.NO_SUCH_QUEUE:
        return new IllegalStateException(describe() + ": " + a.message());
      case ManagerProtocol.ILLEGAL_ARGUMENT:
        return new IllegalArgumentException(a.message());
      case ManagerProtocol.ILLEGAL_STATE:
        return new IllegalStateException(describe() + ": " + a.message());
      default:
        return new ProcPoolException(describe() + ": " + ManagerProtocol.statusName(a.status()) + " "
            + (a.payload().length > 0 ? a.message() : ""));
    }
  }

  /** Two proxies are equal when they name the same queue of the same manager. */
  @Override
  public boolean equals(Object o) {
    if (!(o instanceof QueueProxy)) {
      return false;
    }
    QueueProxy<?> that = (QueueProxy<?>) o;
    return queueId == that.queueId && transport.equals(that.transport) && address.equals(that.address);
  }

  @Override
  public int hashCode() {
    return Long.hashCode(queueId) * 31 + address.hashCode();
  }

  @Override
  public String toString() {
    return "ManagedQueue[" + (name.isEmpty() ? "#" + queueId : name) + ", maxsize=" + maxsize + ", manager="
        + transport + ":" + address + "]";
  }

  /** A blocking call was withdrawn because its thread was interrupted (interrupt status set). */
  static final class InterruptedCallException extends ProcPoolException {
    private static final long serialVersionUID = 1L;

    InterruptedCallException(String message) {
      super(message, new InterruptedException(message));
    }
  }
}
