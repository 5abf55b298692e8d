package io.procpool.api;

import java.io.Serializable;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;

/**
 * A FIFO queue that lives in a manager process and is shared by every process that holds this
 * proxy: Python's {@code multiprocessing.Manager().Queue()}. Obtain one from {@link Manager#queue()}
 * and pass it to pool tasks as an argument or capture: the proxy is {@link Serializable} and
 * connects to its manager in the receiving process.
 *
 * <p><b>The key stays out of the bytes.</b> A serialized proxy carries the manager's address and a
 * fingerprint of its auth key (a hash that does not reveal it), never the key. The JVM that reads it
 * finds the key by that fingerprint among the managers it {@linkplain Manager#start() started} or
 * {@linkplain Manager#connect(String, byte[]) connected to}; a pool's worker process that does not
 * know it asks its parent over the pool's own authenticated channel, so proxies passed to tasks work
 * (also for a manager started after the pool). Reading a proxy anywhere else (e.g. one persisted to a
 * file, in a fresh JVM) fails with an {@link java.io.InvalidObjectException} that says to call
 * {@code Manager.connect(address, key)} first; after that call it can be read.
 *
 * <p>Items are encoded with procpool's default codec (Java serialization with a fast path for
 * strings, numbers and byte arrays) in the calling process; the manager stores the bytes and never
 * decodes them. {@code null} items are allowed, as Python allows {@code None}.
 *
 * <p>Semantics are those of Python's {@code queue.Queue}: a {@code maxsize} of zero or less means
 * unbounded; {@code put} blocks while the queue is full and {@code get} while it is empty; every
 * {@code put} increments a count of unfinished tasks that {@link #taskDone()} decrements and
 * {@link #join()} waits on. Blocked calls wait in the manager (in FIFO order among waiters), not in
 * a polling loop.
 *
 * <p>Failure: if the manager dies or shuts down, every blocked call and every later call fails
 * within about two seconds with {@link ManagerUnreachableException}. If the calling thread is
 * interrupted while blocked, the call is withdrawn from the manager and a {@link ProcPoolException}
 * caused by {@link InterruptedException} is thrown, with the thread's interrupt status set; if the
 * manager had already completed the call (for example handed over an item), the call returns
 * normally instead, with the interrupt status set, so that no item is lost.
 *
 * <p>Proxies are thread-safe; all proxies of one manager in one JVM share one connection.
 *
 * <p><b>Lifetime</b>, as with Python's manager: each proxy object holds a reference to its queue in
 * the manager. It gives it back when {@link #close() closed}, when it is garbage-collected (a
 * {@link java.lang.ref.Cleaner}), or when its JVM's connection to the manager ends (the JVM exits).
 * An <em>anonymous</em> queue ({@link Manager#queue()}) is freed, with its items, once no proxy
 * anywhere references it; a <em>named</em> queue lives until {@link Manager#deleteQueue(String)} (or
 * the manager's end). A proxy in transit (serialized into a task argument, a queue item or a file, and
 * not read yet) references nothing, so serializing a proxy keeps its queue alive for a grace period
 * (five minutes by default; system property {@code procpool.manager.transitGraceMillis} in the
 * serializing JVM) even if every live proxy goes meanwhile; reading it within that period takes a new
 * reference. A proxy read after its queue was freed fails on first use with
 * {@link IllegalStateException}. Keep a proxy (or use a named queue) for as long as the queue is
 * needed.
 *
 * @param <E> the item type
 */
public interface ManagedQueue<E> extends Serializable, AutoCloseable {

  /**
   * Gives this proxy's reference to the queue back to the manager; an anonymous queue is freed when
   * no proxy references it any more (see the lifetime rule above). Afterwards every method of this
   * proxy that calls the manager, and serializing it, fails with {@link IllegalStateException} (a
   * {@link java.io.NotSerializableException} when serialized); other proxies of the same queue are
   * not affected. Idempotent; does not throw if the manager is gone.
   */
  @Override
  void close();

  /**
   * Adds {@code item}, waiting while the queue is full.
   *
   * @throws IllegalArgumentException if the encoded item is larger than the manager accepts (its
   *     transport's {@code maxFrameSize} minus a few bytes of protocol headers, about 64 MiB by
   *     default); only this call fails
   * @throws ManagerUnreachableException if the manager is gone
   */
  void put(E item);

  /**
   * Adds {@code item}, waiting at most {@code timeout} while the queue is full. A zero timeout
   * behaves like {@link #putNowait}.
   *
   * @throws QueueFullException if the queue was still full after {@code timeout}
   * @throws IllegalArgumentException if {@code timeout} is negative
   * @throws ManagerUnreachableException if the manager is gone
   */
  void put(E item, Duration timeout);

  /**
   * Adds {@code item} if there is room now.
   *
   * @throws QueueFullException if the queue is full
   * @throws ManagerUnreachableException if the manager is gone
   */
  void putNowait(E item);

  /**
   * Removes and returns the oldest item, waiting while the queue is empty.
   *
   * @throws ManagerUnreachableException if the manager is gone
   */
  E get();

  /**
   * Removes and returns the oldest item, waiting at most {@code timeout} while the queue is empty.
   * A zero timeout behaves like {@link #getNowait}.
   *
   * @throws QueueEmptyException if the queue was still empty after {@code timeout}
   * @throws IllegalArgumentException if {@code timeout} is negative
   * @throws ManagerUnreachableException if the manager is gone
   */
  E get(Duration timeout);

  /**
   * Removes and returns the oldest item if there is one now.
   *
   * @throws QueueEmptyException if the queue is empty
   * @throws ManagerUnreachableException if the manager is gone
   */
  E getNowait();

  /**
   * The number of items in the queue now (a snapshot: other processes may change it at once).
   *
   * @throws ManagerUnreachableException if the manager is gone
   */
  int qsize();

  /**
   * Whether the queue is empty now (a snapshot).
   *
   * @throws ManagerUnreachableException if the manager is gone
   */
  boolean empty();

  /**
   * Whether the queue is bounded and holds {@code maxsize} items now (a snapshot).
   *
   * @throws ManagerUnreachableException if the manager is gone
   */
  boolean full();

  /** The bound given when the queue was created; zero or less means unbounded. */
  int maxsize();

  /** The queue's name, or empty for an anonymous queue (then its manager-assigned id). */
  String name();

  /**
   * Tells the queue that a task taken with {@code get} is finished; when every item ever put has
   * been matched by a {@code taskDone}, {@link #join()} returns.
   *
   * @throws IllegalStateException if called more times than items were put (Python's
   *     {@code ValueError})
   * @throws ManagerUnreachableException if the manager is gone
   */
  void taskDone();

  /**
   * Waits until every item ever put has been matched by a {@link #taskDone()} call; returns at once
   * if that is already so.
   *
   * @throws ManagerUnreachableException if the manager is gone
   */
  void join();

  /**
   * A {@link BlockingQueue} view of this queue, for code written against
   * {@code java.util.concurrent}. Every call goes to the manager. {@code null} elements are refused
   * with {@link NullPointerException} as the interface requires (and {@code poll()} returning
   * {@code null} means empty, so do not mix the view with {@code put(null)}). {@code take},
   * {@code put} and the timed {@code offer}/{@code poll} throw {@link InterruptedException}.
   * {@code peek} returns the head without removing it; {@code drainTo} removes atomically;
   * {@code iterator()}, {@code contains} and {@code toArray} work on a snapshot, whose iterator does
   * not support {@code remove}; {@code remove(Object)}, {@code removeAll} and {@code retainAll} are
   * unsupported ({@link UnsupportedOperationException}). {@code equals} and {@code hashCode} are
   * identity-based.
   */
  BlockingQueue<E> asBlockingQueue();
}
