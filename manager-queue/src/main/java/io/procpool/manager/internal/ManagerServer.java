package io.procpool.manager.internal;

import static io.procpool.manager.internal.ManagerProtocol.encodeAnswer;

import io.procpool.api.spi.Connection;
import io.procpool.api.spi.ProtocolException;
import io.procpool.api.spi.TransportServer;
import io.procpool.manager.internal.ManagerProtocol.Cancel;
import io.procpool.manager.internal.ManagerProtocol.DecodedRequest;
import io.procpool.manager.internal.ManagerProtocol.Delete;
import io.procpool.manager.internal.ManagerProtocol.Drain;
import io.procpool.manager.internal.ManagerProtocol.MalformedMessageException;
import io.procpool.manager.internal.ManagerProtocol.Open;
import io.procpool.manager.internal.ManagerProtocol.Opened;
import io.procpool.manager.internal.ManagerProtocol.Pin;
import io.procpool.manager.internal.ManagerProtocol.Put;
import io.procpool.manager.internal.ManagerProtocol.QueueRequest;
import io.procpool.manager.internal.ManagerProtocol.Ref;
import io.procpool.manager.internal.ManagerProtocol.Request;
import io.procpool.manager.internal.ManagerProtocol.Stats;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The manager's state and request handling (the {@link ManagerProtocol} server side).
 *
 * <p>Threading: requests are handled on the transport's reader thread of the connection they came
 * on. Each queue has one lock (its monitor) that guards its items, its counters and its FIFO lists
 * of waiting getters, putters and joiners; nothing blocks while holding it (answers are only
 * queued with {@link Connection#write}). A waiting call is a small {@link Waiter} record, not a
 * thread; timeouts are tasks of one shared scheduled executor, cancelled when the waiter
 * completes. Answers to the requesting connection are flushed when its reader has drained its
 * input ({@code onReadComplete}, which batches them); answers to other connections (a getter
 * released by another client's put, or a timeout) are flushed at once, outside the lock.
 *
 * <p>A connection that closes withdraws all its waiters under their queues' locks, so a later put
 * never hands its item to a dead client and no state stays stuck.
 *
 * <p>Lifetime: each queue counts the references its clients' connections hold (see
 * {@link ManagerProtocol}); an anonymous queue with none, whose last PIN has expired, is freed: removed
 * from the table, its items dropped, its waiting calls answered NO_SUCH_QUEUE. A request that looked
 * the queue up just before sees its {@code freed} flag under the queue's lock and is answered the same.
 */
public final class ManagerServer implements TransportServer.Acceptor {
  private final int maxFrameSize;
  private final ScheduledExecutorService timer;
  private final ConcurrentHashMap<Long, QueueState> queues = new ConcurrentHashMap<>();
  private final Map<String, QueueState> named = new HashMap<>();
  private final AtomicLong nextQueueId = new AtomicLong(1);
  private final CountDownLatch shutdown = new CountDownLatch(1);

  /** @param maxFrameSize the transport's largest message, which bounds drains and snapshots */
  public ManagerServer(int maxFrameSize) {
    this.maxFrameSize = maxFrameSize;
    ScheduledThreadPoolExecutor t = new ScheduledThreadPoolExecutor(1, r -> {
      Thread th = new Thread(r, "procpool-manager-timer");
      th.setDaemon(true);
      return th;
    });
    t.setRemoveOnCancelPolicy(true);
    this.timer = Executors.unconfigurableScheduledExecutorService(t);
  }

  @Override
  public void onConnection(Connection connection) {
    connection.start(new Client(connection));
  }

  /** Waits until a client asked the manager to shut down. */
  public void awaitShutdown() throws InterruptedException {
    shutdown.await();
  }

  // ------------------------------------------------------------------ state

  private static final String NO_SUCH_QUEUE_MESSAGE = "no such queue in this manager (an anonymous queue is freed "
      + "once no proxy references it; a named one when deleted; or was the manager restarted?)";

  /** The longest PIN honoured: a day. */
  private static final long MAX_PIN_MILLIS = TimeUnit.DAYS.toMillis(1);

  private static final class QueueState {
    final long id;
    final String name;
    final int maxsize;
    final ArrayDeque<byte[]> items = new ArrayDeque<>();
    long unfinished;
    /** References held by clients' connections. */
    long refs;
    /** Until when a serialized proxy keeps this queue alive without references ({@code nanoTime}). */
    long pinnedUntil;
    boolean pinned;
    /** A free check scheduled for when the pin expires. */
    ScheduledFuture<?> freeCheck;
    boolean freed;
    final ArrayDeque<Waiter> getters = new ArrayDeque<>();
    final ArrayDeque<Waiter> putters = new ArrayDeque<>();
    final ArrayDeque<Waiter> joiners = new ArrayDeque<>();

    QueueState(long id, String name, int maxsize) {
      this.id = id;
      this.name = name;
      this.maxsize = maxsize;
    }

    boolean hasRoom() {
      return maxsize <= 0 || items.size() < maxsize;
    }

    /** The oldest waiter of {@code list} whose client is alive, removed; or null. */
    static Waiter pollLive(ArrayDeque<Waiter> list) {
      Waiter w;
      while ((w = list.poll()) != null) {
        if (!w.done && !w.client.closed) {
          return w;
        }
        w.done = true;
      }
      return null;
    }
  }

  /** A call waiting in the manager. Guarded by its queue's lock. */
  private static final class Waiter {
    final Client client;
    final long requestId;
    final QueueState queue;
    final byte op;
    final byte[] item;
    ScheduledFuture<?> timeout;
    boolean done;

    Waiter(Client client, long requestId, QueueState queue, byte op, byte[] item) {
      this.client = client;
      this.requestId = requestId;
      this.queue = queue;
      this.op = op;
      this.item = item;
    }

    ArrayDeque<Waiter> list() {
      return op == ManagerProtocol.GET ? queue.getters : op == ManagerProtocol.PUT ? queue.putters : queue.joiners;
    }
  }

  /** Connections to flush once the current queue lock is released. */
  private static final class Outbox {
    final Client self;
    final List<Client> others = new ArrayList<>(2);

    Outbox(Client self) {
      this.self = self;
    }

    void send(Client to, ByteBuffer answer) {
      to.connection.write(answer);
      if (to == self) {
        self.dirty = true;
      } else if (!others.contains(to)) {
        others.add(to);
      }
    }

    void flushOthers() {
      for (Client c : others) {
        c.flushQuietly();
      }
    }
  }

  // ------------------------------------------------------------------ one connection

  private final class Client implements Connection.Listener {
    final Connection connection;
    final ConcurrentHashMap<Long, Waiter> waiters = new ConcurrentHashMap<>();
    /** The references this connection holds, by queue id. */
    final ConcurrentHashMap<Long, Long> refs = new ConcurrentHashMap<>();
    volatile boolean closed;
    boolean dirty; // reader thread only

    Client(Connection connection) {
      this.connection = connection;
    }

    @Override
    public void onMessage(ByteBuffer message) {
      Outbox out = new Outbox(this);
      DecodedRequest d;
      try {
        d = ManagerProtocol.decodeRequest(message);
      } catch (MalformedMessageException e) {
        if (e.hasRequestId()) {
          out.send(this, encodeAnswer(e.requestId(), ManagerProtocol.ERROR,
              "manager: bad request: " + e.getMessage()));
        } else {
          connection.close(new ProtocolException("manager: " + e.getMessage()));
        }
        return;
      }
      try {
        handle(this, d.requestId(), d.request(), out);
      } catch (RuntimeException e) {
        out.send(this, encodeAnswer(d.requestId(), ManagerProtocol.ERROR,
            "manager: cannot handle " + ManagerProtocol.opName(d.request().op()) + ": " + e));
      }
      out.flushOthers();
    }

    @Override
    public void onReadComplete() {
      if (dirty) {
        dirty = false;
        flushQuietly();
      }
    }

    @Override
    public void onClosed(Throwable cause) {
      closed = true;
      for (Waiter w : waiters.values()) {
        synchronized (w.queue) {
          withdraw(w);
        }
      }
      waiters.clear();
      for (Long queueId : refs.keySet()) {
        Long n = refs.remove(queueId);
        QueueState q = queues.get(queueId);
        if (n != null && q != null) {
          dropRefs(q, n);
        }
      }
    }

    void flushQuietly() {
      try {
        connection.flush();
      } catch (IOException e) {
        // onClosed follows and withdraws this client's waiters.
      }
    }
  }

  // ------------------------------------------------------------------ requests

  private void handle(Client c, long id, Request r, Outbox out) {
    switch (r.op()) {
      case ManagerProtocol.OPEN:
        out.send(c, open(c, id, (Open) r));
        return;
      case ManagerProtocol.CANCEL: {
        Waiter w = c.waiters.get(((Cancel) r).targetRequestId());
        if (w != null) {
          synchronized (w.queue) {
            if (withdraw(w)) {
              out.send(c, encodeAnswer(w.requestId, ManagerProtocol.CANCELLED));
            }
          }
        }
        return;
      }
      case ManagerProtocol.PING:
        out.send(c, encodeAnswer(id, ManagerProtocol.OK));
        return;
      case ManagerProtocol.RETAIN: {
        QueueState q = queues.get(((Ref) r).queueId());
        if (q != null) {
          addRef(c, q);
        }
        return;
      }
      case ManagerProtocol.RELEASE: {
        long queueId = ((Ref) r).queueId();
        boolean[] held = {false}; // a RELEASE of a reference this connection does not hold is ignored
        c.refs.computeIfPresent(queueId, (k, n) -> {
          held[0] = true;
          return n == 1 ? null : n - 1;
        });
        QueueState q = queues.get(queueId);
        if (held[0] && q != null) {
          dropRefs(q, 1);
        }
        return;
      }
      case ManagerProtocol.PIN: {
        Pin pin = (Pin) r;
        QueueState q = queues.get(pin.queueId());
        if (q != null) {
          long millis = Math.max(0, Math.min(pin.millis(), MAX_PIN_MILLIS));
          synchronized (q) {
            long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
            if (!q.pinned || until - q.pinnedUntil > 0) {
              q.pinnedUntil = until;
              q.pinned = true;
            }
          }
        }
        return;
      }
      case ManagerProtocol.DELETE: {
        QueueState q;
        synchronized (named) {
          q = named.remove(((Delete) r).name());
        }
        if (q == null) {
          out.send(c, encodeAnswer(id, ManagerProtocol.NO_SUCH_QUEUE, "no queue named '" + ((Delete) r).name()
              + "' in this manager"));
          return;
        }
        synchronized (q) {
          free(q, "was deleted", out);
        }
        out.send(c, encodeAnswer(id, ManagerProtocol.OK));
        return;
      }
      case ManagerProtocol.STATS:
        out.send(c, encodeAnswer(id, ManagerProtocol.OK, stats().encode()));
        return;
      case ManagerProtocol.SHUTDOWN:
        out.send(c, encodeAnswer(id, ManagerProtocol.OK));
        c.flushQuietly();
        shutdown.countDown();
        return;
      default:
        break;
    }
    QueueState q = queues.get(((QueueRequest) r).queueId());
    if (q == null) {
      out.send(c, encodeAnswer(id, ManagerProtocol.NO_SUCH_QUEUE, NO_SUCH_QUEUE_MESSAGE));
      return;
    }
    byte op = r.op();
    synchronized (q) {
      if (q.freed) {
        out.send(c, encodeAnswer(id, ManagerProtocol.NO_SUCH_QUEUE, NO_SUCH_QUEUE_MESSAGE));
        return;
      }
      switch (op) {
        case ManagerProtocol.PUT: {
          long timeout = r.timeoutNanos();
          byte[] item = ((Put) r).item();
          Waiter getter = QueueState.pollLive(q.getters);
          if (getter != null) {
            q.unfinished++;
            complete(getter, ManagerProtocol.OK, item, out);
            out.send(c, encodeAnswer(id, ManagerProtocol.OK));
          } else if (q.hasRoom()) {
            q.items.addLast(item);
            q.unfinished++;
            out.send(c, encodeAnswer(id, ManagerProtocol.OK));
          } else if (timeout == 0) {
            out.send(c, encodeAnswer(id, ManagerProtocol.FULL));
          } else {
            park(new Waiter(c, id, q, op, item), timeout);
          }
          return;
        }
        case ManagerProtocol.GET: {
          long timeout = r.timeoutNanos();
          if (!q.items.isEmpty()) {
            byte[] item = q.items.pollFirst();
            admitPutters(q, out);
            out.send(c, encodeAnswer(id, ManagerProtocol.OK, item));
          } else if (timeout == 0) {
            out.send(c, encodeAnswer(id, ManagerProtocol.EMPTY));
          } else {
            park(new Waiter(c, id, q, op, null), timeout);
          }
          return;
        }
        case ManagerProtocol.PEEK:
          out.send(c, q.items.isEmpty()
              ? encodeAnswer(id, ManagerProtocol.EMPTY)
              : encodeAnswer(id, ManagerProtocol.OK, q.items.peekFirst()));
          return;
        case ManagerProtocol.QSIZE:
          out.send(c, encodeAnswer(id, ManagerProtocol.OK, ManagerProtocol.encodeSize(q.items.size())));
          return;
        case ManagerProtocol.EMPTY_Q:
          out.send(c, encodeAnswer(id, ManagerProtocol.OK, ManagerProtocol.encodeFlag(q.items.isEmpty())));
          return;
        case ManagerProtocol.FULL_Q:
          out.send(c, encodeAnswer(id, ManagerProtocol.OK, ManagerProtocol.encodeFlag(!q.hasRoom())));
          return;
        case ManagerProtocol.TASK_DONE:
          if (q.unfinished <= 0) {
            out.send(c, encodeAnswer(id, ManagerProtocol.ILLEGAL_STATE,
                "taskDone() called more times than items were put"));
            return;
          }
          if (--q.unfinished == 0) {
            Waiter j;
            while ((j = QueueState.pollLive(q.joiners)) != null) {
              complete(j, ManagerProtocol.OK, ManagerProtocol.NO_PAYLOAD, out);
            }
          }
          out.send(c, encodeAnswer(id, ManagerProtocol.OK));
          return;
        case ManagerProtocol.JOIN: {
          long timeout = r.timeoutNanos();
          if (q.unfinished == 0) {
            out.send(c, encodeAnswer(id, ManagerProtocol.OK));
          } else if (timeout == 0) {
            out.send(c, encodeAnswer(id, ManagerProtocol.CANCELLED));
          } else {
            park(new Waiter(c, id, q, op, null), timeout);
          }
          return;
        }
        case ManagerProtocol.DRAIN:
        case ManagerProtocol.SNAPSHOT: {
          boolean drain = op == ManagerProtocol.DRAIN;
          int max = drain ? ((Drain) r).maxItems() : Integer.MAX_VALUE;
          int from = drain ? 0 : Math.max(0, ((ManagerProtocol.Snapshot) r).from());
          List<byte[]> taken = new ArrayList<>();
          // What the answer takes besides the items: header, [i32 size,] i32 n.
          long bytes = ManagerProtocol.ANSWER_HEADER_BYTES + ManagerProtocol.ITEMS_HEADER_BYTES + (drain ? 0 : 4);
          int index = 0;
          for (byte[] item : q.items) {
            if (index++ < from) {
              continue;
            }
            if (taken.size() >= max || bytes + ManagerProtocol.itemEntryBytes(item) > maxFrameSize) {
              break;
            }
            taken.add(item);
            bytes += ManagerProtocol.itemEntryBytes(item);
          }
          if (drain) {
            for (int i = 0; i < taken.size(); i++) {
              q.items.pollFirst();
            }
            admitPutters(q, out);
            out.send(c, encodeAnswer(id, ManagerProtocol.OK, ManagerProtocol.encodeItems(taken)));
          } else {
            out.send(c, encodeAnswer(id, ManagerProtocol.OK, ManagerProtocol.encodeSnapshotPage(q.items.size(), taken)));
          }
          return;
        }
        default:
          throw new IllegalStateException("unhandled op " + ManagerProtocol.opName(op));
      }
    }
  }

  private ByteBuffer open(Client c, long id, Open r) {
    int normalized = Math.max(r.maxsize(), 0);
    QueueState q;
    if (!r.named()) {
      q = new QueueState(nextQueueId.getAndIncrement(), "", normalized);
      queues.put(q.id, q);
      addRef(c, q);
    } else {
      synchronized (named) {
        q = named.get(r.name());
        if (q == null) {
          q = new QueueState(nextQueueId.getAndIncrement(), r.name(), normalized);
          queues.put(q.id, q);
          named.put(r.name(), q);
        } else if (r.maxsizeGiven() && q.maxsize != normalized) {
          return encodeAnswer(id, ManagerProtocol.ILLEGAL_ARGUMENT, "queue '" + r.name()
              + "' exists with maxsize " + q.maxsize + ", not " + r.maxsize());
        }
      }
      addRef(c, q);
    }
    return encodeAnswer(id, ManagerProtocol.OK, new Opened(q.id, q.maxsize).encode());
  }

  // ------------------------------------------------------------------ lifetime

  /** One more reference of {@code c} to {@code q}; none if {@code q} was freed already. */
  private void addRef(Client c, QueueState q) {
    synchronized (q) {
      if (q.freed) {
        return;
      }
      q.refs++;
    }
    c.refs.merge(q.id, 1L, Long::sum);
    if (c.closed) {
      // The connection ended while this request was handled: onClosed may have missed this reference.
      Long n = c.refs.remove(q.id);
      if (n != null) {
        dropRefs(q, n);
      }
    }
  }

  /** Takes {@code n} references off {@code q} and frees it if that was the last and it is not pinned. */
  private void dropRefs(QueueState q, long n) {
    Outbox out = new Outbox(null);
    synchronized (q) {
      q.refs -= n;
      maybeFree(q, out);
    }
    out.flushOthers();
  }

  /** Frees {@code q} if nothing keeps it; or checks again when its pin expires. Under its lock. */
  private void maybeFree(QueueState q, Outbox out) {
    if (q.freed || q.refs > 0 || !q.name.isEmpty()) {
      return;
    }
    long left = q.pinned ? q.pinnedUntil - System.nanoTime() : 0;
    if (left > 0) {
      if (q.freeCheck == null || q.freeCheck.isDone()) {
        q.freeCheck = timer.schedule(() -> {
          Outbox o = new Outbox(null);
          synchronized (q) {
            q.freeCheck = null;
            maybeFree(q, o);
          }
          o.flushOthers();
        }, left, TimeUnit.NANOSECONDS);
      }
      return;
    }
    free(q, "was freed: no proxy references it any more", out);
  }

  /** Removes {@code q} and answers its waiting calls NO_SUCH_QUEUE. Under its lock. */
  private void free(QueueState q, String why, Outbox out) {
    if (q.freed) {
      return;
    }
    q.freed = true;
    queues.remove(q.id, q);
    q.items.clear();
    if (q.freeCheck != null) {
      q.freeCheck.cancel(false);
      q.freeCheck = null;
    }
    String message = "queue " + (q.name.isEmpty() ? "#" + q.id : "'" + q.name + "'") + " " + why;
    for (ArrayDeque<Waiter> list : List.of(q.getters, q.putters, q.joiners)) {
      Waiter w;
      while ((w = QueueState.pollLive(list)) != null) {
        complete(w, ManagerProtocol.NO_SUCH_QUEUE, message.getBytes(StandardCharsets.UTF_8), out);
      }
    }
  }

  /** What STATS reports. */
  private Stats stats() {
    int count = 0;
    long items = 0;
    long bytes = 0;
    for (QueueState q : queues.values()) {
      synchronized (q) {
        if (q.freed) {
          continue;
        }
        count++;
        items += q.items.size();
        for (byte[] item : q.items) {
          bytes += item.length;
        }
      }
    }
    return new Stats(count, items, bytes);
  }

  /** Moves waiting putters' items into the queue while there is room. Under the queue's lock. */
  private static void admitPutters(QueueState q, Outbox out) {
    while (q.hasRoom()) {
      Waiter p = QueueState.pollLive(q.putters);
      if (p == null) {
        return;
      }
      q.items.addLast(p.item);
      q.unfinished++;
      complete(p, ManagerProtocol.OK, ManagerProtocol.NO_PAYLOAD, out);
    }
  }

  /** Registers a waiting call. Under the queue's lock. */
  private void park(Waiter w, long timeoutNanos) {
    w.list().addLast(w);
    w.client.waiters.put(w.requestId, w);
    if (w.client.closed) {
      // The connection ended while this request was handled: onClosed may have missed it.
      withdraw(w);
      return;
    }
    if (timeoutNanos > 0) {
      w.timeout = timer.schedule(() -> expire(w), timeoutNanos, TimeUnit.NANOSECONDS);
    }
  }

  private void expire(Waiter w) {
    boolean sent;
    synchronized (w.queue) {
      sent = withdraw(w);
      if (sent) {
        byte status = w.op == ManagerProtocol.GET ? ManagerProtocol.EMPTY
            : w.op == ManagerProtocol.PUT ? ManagerProtocol.FULL : ManagerProtocol.CANCELLED;
        w.client.connection.write(encodeAnswer(w.requestId, status));
      }
    }
    if (sent) {
      w.client.flushQuietly();
    }
  }

  /** Completes a waiter that {@link QueueState#pollLive} took off its list. Under the queue's lock. */
  private static void complete(Waiter w, byte status, byte[] payload, Outbox out) {
    w.done = true;
    if (w.timeout != null) {
      w.timeout.cancel(false);
    }
    w.client.waiters.remove(w.requestId);
    out.send(w.client, encodeAnswer(w.requestId, status, payload));
  }

  /** Takes a waiter out without answering it; false if it had completed already. Under its queue's lock. */
  private static boolean withdraw(Waiter w) {
    if (w.done) {
      return false;
    }
    w.done = true;
    w.list().remove(w);
    if (w.timeout != null) {
      w.timeout.cancel(false);
    }
    w.client.waiters.remove(w.requestId);
    return true;
  }
}
