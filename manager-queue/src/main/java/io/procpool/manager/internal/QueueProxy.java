package io.procpool.manager.internal;

import io.procpool.api.ManagedQueue;
import io.procpool.api.ProcPoolException;
import io.procpool.api.QueueEmptyException;
import io.procpool.api.QueueFullException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;

/**
 * The {@link ManagedQueue} proxy: the manager's transport, address and key and the queue's id.
 * Serializable; after deserialization it finds (or opens) this JVM's shared {@link ManagerClient}
 * on first use.
 */
final class QueueProxy<E> implements ManagedQueue<E> {
  private static final long serialVersionUID = 1L;

  private final String transport;
  private final String address;
  private final byte[] authKey;
  private final long queueId;
  private final String name;
  private final int maxsize;
  private transient volatile ManagerClient client;

  QueueProxy(ManagerClient client, long queueId, String name, int maxsize) {
    this.transport = client.transport();
    this.address = client.address();
    this.authKey = client.authKey();
    this.queueId = queueId;
    this.name = name;
    this.maxsize = maxsize;
    this.client = client;
  }

  private ManagerClient client() {
    ManagerClient c = client;
    if (c == null) {
      c = ManagerClient.of(transport, address, authKey);
      client = c;
    }
    return c;
  }

  private String describe() {
    return "queue " + (name.isEmpty() ? "#" + queueId : "'" + name + "'") + " of the manager at "
        + client().displayAddress();
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
    doPut(item, Protocol.FOREVER, null);
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
    byte[] bytes = Items.encode(item);
    ManagerClient.Answer a = client().call(Protocol.PUT, 16 + bytes.length,
        b -> b.putLong(queueId).putLong(timeoutNanos).put(bytes), timeoutNanos);
    switch (a.status()) {
      case Protocol.OK:
        return;
      case Protocol.FULL:
        throw new QueueFullException(describe() + " is full (maxsize " + maxsize + ")"
            + (timeoutNanos > 0 ? " after waiting " + shown : ""), client().displayAddress());
      default:
        throw failure(a);
    }
  }

  // ------------------------------------------------------------------ get

  @Override
  public E get() {
    return doGet(Protocol.FOREVER, null);
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
    ManagerClient.Answer a = client().call(Protocol.GET, 16,
        b -> b.putLong(queueId).putLong(timeoutNanos), timeoutNanos);
    switch (a.status()) {
      case Protocol.OK:
        return Items.decode(a.payload());
      case Protocol.EMPTY:
        throw new QueueEmptyException(describe() + " is empty"
            + (timeoutNanos > 0 ? " after waiting " + shown : ""), client().displayAddress());
      default:
        throw failure(a);
    }
  }

  /** The head item's bytes without removing it, or null if the queue is empty. */
  byte[] peekBytes() {
    ManagerClient.Answer a = client().call(Protocol.PEEK, 8, b -> b.putLong(queueId), 0);
    switch (a.status()) {
      case Protocol.OK:
        return a.payload();
      case Protocol.EMPTY:
        return null;
      default:
        throw failure(a);
    }
  }

  /** Removes up to {@code max} items at once (SNAPSHOT: copies all without removing). */
  List<byte[]> takeMany(byte op, int max) {
    ManagerClient.Answer a = client().call(op, op == Protocol.DRAIN ? 12 : 8, b -> {
      b.putLong(queueId);
      if (op == Protocol.DRAIN) {
        b.putInt(max);
      }
    }, 0);
    if (a.status() != Protocol.OK) {
      throw failure(a);
    }
    ByteBuffer p = ByteBuffer.wrap(a.payload());
    int n = p.getInt();
    List<byte[]> items = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      byte[] item = new byte[p.getInt()];
      p.get(item);
      items.add(item);
    }
    return items;
  }

  // ------------------------------------------------------------------ state

  @Override
  public int qsize() {
    return ByteBuffer.wrap(simple(Protocol.QSIZE)).getInt();
  }

  @Override
  public boolean empty() {
    return simple(Protocol.EMPTY_Q)[0] != 0;
  }

  @Override
  public boolean full() {
    return simple(Protocol.FULL_Q)[0] != 0;
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
    ManagerClient.Answer a = client().call(Protocol.TASK_DONE, 8, b -> b.putLong(queueId), 0);
    if (a.status() == Protocol.ILLEGAL_STATE) {
      throw new IllegalStateException(describe() + ": " + a.message());
    }
    if (a.status() != Protocol.OK) {
      throw failure(a);
    }
  }

  @Override
  public void join() {
    ManagerClient.Answer a = client().call(Protocol.JOIN, 16,
        b -> b.putLong(queueId).putLong(Protocol.FOREVER), Protocol.FOREVER);
    if (a.status() != Protocol.OK) {
      throw failure(a);
    }
  }

  @Override
  public BlockingQueue<E> asBlockingQueue() {
    return new BlockingQueueView<>(this);
  }

  private byte[] simple(byte op) {
    ManagerClient.Answer a = client().call(op, 8, b -> b.putLong(queueId), 0);
    if (a.status() != Protocol.OK) {
      throw failure(a);
    }
    return a.payload();
  }

  private RuntimeException failure(ManagerClient.Answer a) {
    switch (a.status()) {
      case Protocol.CANCELLED:
        return new InterruptedCallException(describe() + ": interrupted while waiting");
      case Protocol.NO_SUCH_QUEUE:
        return new IllegalStateException(describe() + " does not exist (was the manager restarted?)");
      case Protocol.ILLEGAL_ARGUMENT:
        return new IllegalArgumentException(a.message());
      case Protocol.ILLEGAL_STATE:
        return new IllegalStateException(describe() + ": " + a.message());
      default:
        return new ProcPoolException(describe() + ": " + Protocol.statusName(a.status()) + " "
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
