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
import java.time.Duration;
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
  /** The client's transport properties (e.g. trust in the manager's TLS certificate), key, value, ... */
  private final String[] transportProperties;
  private final long queueId;
  private final String name;
  private final int maxsize;
  private transient volatile ManagerClient client;

  QueueProxy(ManagerClient client, long queueId, String name, int maxsize) {
    this.transport = client.transport();
    this.address = client.address();
    this.authKey = client.authKey();
    this.transportProperties = ManagerClient.flatten(client.properties());
    this.queueId = queueId;
    this.name = name;
    this.maxsize = maxsize;
    this.client = client;
  }

  private ManagerClient client() {
    ManagerClient c = client;
    if (c == null) {
      c = ManagerClient.of(transport, address, authKey, ManagerClient.unflatten(transportProperties));
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
    Answer a = client().call(new Put(queueId, timeoutNanos, Items.encode(item)));
    switch (a.status()) {
      case ManagerProtocol.OK:
        return;
      case ManagerProtocol.FULL:
        throw new QueueFullException(describe() + " is full (maxsize " + maxsize + ")"
            + (timeoutNanos > 0 ? " after waiting " + shown : ""), client().displayAddress());
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
    Answer a = client().call(new QueueAndTimeout(ManagerProtocol.GET, queueId, timeoutNanos));
    switch (a.status()) {
      case ManagerProtocol.OK:
        return Items.decode(a.payload());
      case ManagerProtocol.EMPTY:
        throw new QueueEmptyException(describe() + " is empty"
            + (timeoutNanos > 0 ? " after waiting " + shown : ""), client().displayAddress());
      default:
        throw failure(a);
    }
  }

  /** The head item's bytes without removing it, or null if the queue is empty. */
  byte[] peekBytes() {
    Answer a = client().call(new QueueOnly(ManagerProtocol.PEEK, queueId));
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

  /** Copies all items without removing them. */
  List<byte[]> snapshotBytes() {
    return ManagerProtocol.decodeItems(simple(new QueueOnly(ManagerProtocol.SNAPSHOT, queueId)));
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
    Answer a = client().call(request);
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
        return new IllegalStateException(describe() + " does not exist (was the manager restarted?)");
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
