package io.procpool.manager.internal;

import io.procpool.api.QueueEmptyException;
import io.procpool.api.QueueFullException;
import io.procpool.core.internal.Items;
import java.time.Duration;
import java.util.AbstractQueue;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * {@link io.procpool.api.ManagedQueue#asBlockingQueue()}: every method is one call to the manager
 * (see that method for what is unsupported).
 */
final class BlockingQueueView<E> extends AbstractQueue<E> implements BlockingQueue<E> {
  private final QueueProxy<E> q;

  BlockingQueueView(QueueProxy<E> q) {
    this.q = q;
  }

  @Override
  public boolean offer(E e) {
    Objects.requireNonNull(e, "element");
    try {
      q.doPut(e, 0, Duration.ZERO);
      return true;
    } catch (QueueFullException full) {
      return false;
    }
  }

  @Override
  public void put(E e) throws InterruptedException {
    Objects.requireNonNull(e, "element");
    interruptible(() -> {
      q.doPut(e, ManagerProtocol.FOREVER, null);
      return null;
    });
  }

  @Override
  public boolean offer(E e, long timeout, TimeUnit unit) throws InterruptedException {
    Objects.requireNonNull(e, "element");
    long nanos = Math.max(0, unit.toNanos(timeout));
    try {
      interruptible(() -> {
        q.doPut(e, nanos, Duration.ofNanos(nanos));
        return null;
      });
      return true;
    } catch (QueueFullException full) {
      return false;
    }
  }

  @Override
  public E take() throws InterruptedException {
    return interruptible(() -> q.doGet(ManagerProtocol.FOREVER, null));
  }

  @Override
  public E poll(long timeout, TimeUnit unit) throws InterruptedException {
    long nanos = Math.max(0, unit.toNanos(timeout));
    try {
      return interruptible(() -> q.doGet(nanos, Duration.ofNanos(nanos)));
    } catch (QueueEmptyException empty) {
      return null;
    }
  }

  @Override
  public E poll() {
    try {
      return q.doGet(0, Duration.ZERO);
    } catch (QueueEmptyException empty) {
      return null;
    }
  }

  @Override
  public E peek() {
    byte[] head = q.peekBytes();
    return head == null ? null : Items.decode(head);
  }

  @Override
  public int size() {
    return q.qsize();
  }

  @Override
  public boolean isEmpty() {
    return q.empty();
  }

  @Override
  public int remainingCapacity() {
    return q.maxsize() <= 0 ? Integer.MAX_VALUE : Math.max(0, q.maxsize() - q.qsize());
  }

  @Override
  public int drainTo(Collection<? super E> c) {
    return drainTo(c, Integer.MAX_VALUE);
  }

  @Override
  public int drainTo(Collection<? super E> c, int maxElements) {
    Objects.requireNonNull(c, "collection");
    if (c == this) {
      throw new IllegalArgumentException("cannot drain a queue into itself");
    }
    int total = 0;
    while (total < maxElements) {
      List<byte[]> batch = q.drainBytes(maxElements - total);
      if (batch.isEmpty()) {
        break;
      }
      for (byte[] item : batch) {
        c.add(Items.decode(item));
      }
      total += batch.size();
    }
    return total;
  }

  @Override
  public void clear() {
    while (!q.drainBytes(Integer.MAX_VALUE).isEmpty()) {
      // drained in batches of at most one message each
    }
  }

  /** A snapshot of the queue; its iterator does not support {@code remove}. */
  @Override
  public Iterator<E> iterator() {
    List<E> items = new ArrayList<>();
    for (byte[] b : q.snapshotBytes()) {
      items.add(Items.decode(b));
    }
    return Collections.unmodifiableList(items).iterator();
  }

  @Override
  public boolean remove(Object o) {
    throw new UnsupportedOperationException("a managed queue's view cannot remove an arbitrary element");
  }

  @Override
  public boolean removeAll(Collection<?> c) {
    throw new UnsupportedOperationException("a managed queue's view cannot remove arbitrary elements");
  }

  @Override
  public boolean retainAll(Collection<?> c) {
    throw new UnsupportedOperationException("a managed queue's view cannot remove arbitrary elements");
  }

  @Override
  public String toString() {
    return "BlockingQueue view of " + q;
  }

  private interface Call<T> {
    T run();
  }

  private static <T> T interruptible(Call<T> call) throws InterruptedException {
    if (Thread.interrupted()) {
      throw new InterruptedException();
    }
    try {
      return call.run();
    } catch (QueueProxy.InterruptedCallException e) {
      Thread.interrupted(); // InterruptedException replaces the status
      throw (InterruptedException) e.getCause();
    }
  }
}
