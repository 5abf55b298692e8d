package io.procpool.manager.internal;

import io.procpool.api.spi.Connection;
import io.procpool.api.spi.TransportServer;
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
 * The manager's state and request handling (the {@link Protocol} server side).
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

  private static final class QueueState {
    final long id;
    final String name;
    final int maxsize;
    final ArrayDeque<byte[]> items = new ArrayDeque<>();
    long unfinished;
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
      return op == Protocol.GET ? queue.getters : op == Protocol.PUT ? queue.putters : queue.joiners;
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
    volatile boolean closed;
    boolean dirty; // reader thread only

    Client(Connection connection) {
      this.connection = connection;
    }

    @Override
    public void onMessage(ByteBuffer message) {
      Outbox out = new Outbox(this);
      long requestId = -1;
      try {
        byte op = message.get();
        requestId = message.getLong();
        handle(this, op, requestId, message, out);
      } catch (RuntimeException e) {
        if (requestId != -1) {
          out.send(this, Protocol.answer(requestId, Protocol.ERROR, "manager: bad request: " + e));
        } else {
          connection.close();
        }
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

  private void handle(Client c, byte op, long id, ByteBuffer m, Outbox out) {
    switch (op) {
      case Protocol.OPEN:
        out.send(c, open(id, m));
        return;
      case Protocol.CANCEL: {
        Waiter w = c.waiters.get(m.getLong());
        if (w != null) {
          synchronized (w.queue) {
            if (withdraw(w)) {
              out.send(c, Protocol.answer(w.requestId, Protocol.CANCELLED, (byte[]) null));
            }
          }
        }
        return;
      }
      case Protocol.PING:
        out.send(c, Protocol.answer(id, Protocol.OK, (byte[]) null));
        return;
      case Protocol.SHUTDOWN:
        out.send(c, Protocol.answer(id, Protocol.OK, (byte[]) null));
        c.flushQuietly();
        shutdown.countDown();
        return;
      default:
        break;
    }
    QueueState q = queues.get(m.getLong());
    if (q == null) {
      out.send(c, Protocol.answer(id, Protocol.NO_SUCH_QUEUE, "no such queue in this manager"));
      return;
    }
    synchronized (q) {
      switch (op) {
        case Protocol.PUT: {
          long timeout = m.getLong();
          byte[] item = new byte[m.remaining()];
          m.get(item);
          Waiter getter = QueueState.pollLive(q.getters);
          if (getter != null) {
            q.unfinished++;
            complete(getter, Protocol.OK, item, out);
            out.send(c, Protocol.answer(id, Protocol.OK, (byte[]) null));
          } else if (q.hasRoom()) {
            q.items.addLast(item);
            q.unfinished++;
            out.send(c, Protocol.answer(id, Protocol.OK, (byte[]) null));
          } else if (timeout == 0) {
            out.send(c, Protocol.answer(id, Protocol.FULL, (byte[]) null));
          } else {
            park(new Waiter(c, id, q, op, item), timeout);
          }
          return;
        }
        case Protocol.GET: {
          long timeout = m.getLong();
          if (!q.items.isEmpty()) {
            byte[] item = q.items.pollFirst();
            admitPutters(q, out);
            out.send(c, Protocol.answer(id, Protocol.OK, item));
          } else if (timeout == 0) {
            out.send(c, Protocol.answer(id, Protocol.EMPTY, (byte[]) null));
          } else {
            park(new Waiter(c, id, q, op, null), timeout);
          }
          return;
        }
        case Protocol.PEEK:
          out.send(c, q.items.isEmpty()
              ? Protocol.answer(id, Protocol.EMPTY, (byte[]) null)
              : Protocol.answer(id, Protocol.OK, q.items.peekFirst()));
          return;
        case Protocol.QSIZE:
          out.send(c, Protocol.answer(id, Protocol.OK, ByteBuffer.allocate(4).putInt(q.items.size()).array()));
          return;
        case Protocol.EMPTY_Q:
          out.send(c, Protocol.answer(id, Protocol.OK, new byte[] {(byte) (q.items.isEmpty() ? 1 : 0)}));
          return;
        case Protocol.FULL_Q:
          out.send(c, Protocol.answer(id, Protocol.OK, new byte[] {(byte) (q.hasRoom() ? 0 : 1)}));
          return;
        case Protocol.TASK_DONE:
          if (q.unfinished <= 0) {
            out.send(c, Protocol.answer(id, Protocol.ILLEGAL_STATE, "taskDone() called more times than items were put"));
            return;
          }
          if (--q.unfinished == 0) {
            Waiter j;
            while ((j = QueueState.pollLive(q.joiners)) != null) {
              complete(j, Protocol.OK, null, out);
            }
          }
          out.send(c, Protocol.answer(id, Protocol.OK, (byte[]) null));
          return;
        case Protocol.JOIN: {
          long timeout = m.getLong();
          if (q.unfinished == 0) {
            out.send(c, Protocol.answer(id, Protocol.OK, (byte[]) null));
          } else if (timeout == 0) {
            out.send(c, Protocol.answer(id, Protocol.CANCELLED, (byte[]) null));
          } else {
            park(new Waiter(c, id, q, op, null), timeout);
          }
          return;
        }
        case Protocol.DRAIN:
        case Protocol.SNAPSHOT: {
          int max = op == Protocol.DRAIN ? m.getInt() : Integer.MAX_VALUE;
          List<byte[]> taken = new ArrayList<>();
          long bytes = 4;
          for (byte[] item : q.items) {
            if (taken.size() >= max || bytes + 4 + item.length > maxFrameSize - 64L) {
              break;
            }
            taken.add(item);
            bytes += 4 + item.length;
          }
          if (op == Protocol.SNAPSHOT && taken.size() < q.items.size()) {
            out.send(c, Protocol.answer(id, Protocol.ERROR, "the queue holds " + q.items.size()
                + " items, too many bytes for one message: cannot take a snapshot"));
            return;
          }
          ByteBuffer payload = ByteBuffer.allocate((int) bytes).putInt(taken.size());
          for (byte[] item : taken) {
            payload.putInt(item.length).put(item);
          }
          if (op == Protocol.DRAIN) {
            for (int i = 0; i < taken.size(); i++) {
              q.items.pollFirst();
            }
            admitPutters(q, out);
          }
          out.send(c, Protocol.answer(id, Protocol.OK, payload.array()));
          return;
        }
        default:
          out.send(c, Protocol.answer(id, Protocol.ERROR, "manager: unknown op " + op));
      }
    }
  }

  private ByteBuffer open(long id, ByteBuffer m) {
    int flags = m.get();
    int maxsize = m.getInt();
    byte[] nameBytes = new byte[m.getShort() & 0xffff];
    m.get(nameBytes);
    String name = new String(nameBytes, StandardCharsets.UTF_8);
    int normalized = Math.max(maxsize, 0);
    QueueState q;
    if ((flags & Protocol.FLAG_NAMED) == 0) {
      q = new QueueState(nextQueueId.getAndIncrement(), "", normalized);
      queues.put(q.id, q);
    } else {
      synchronized (named) {
        q = named.get(name);
        if (q == null) {
          q = new QueueState(nextQueueId.getAndIncrement(), name, normalized);
          queues.put(q.id, q);
          named.put(name, q);
        } else if ((flags & Protocol.FLAG_MAXSIZE_GIVEN) != 0 && q.maxsize != normalized) {
          return Protocol.answer(id, Protocol.ILLEGAL_ARGUMENT, "queue '" + name + "' exists with maxsize "
              + q.maxsize + ", not " + maxsize);
        }
      }
    }
    return Protocol.answer(id, Protocol.OK, ByteBuffer.allocate(12).putLong(q.id).putInt(q.maxsize).array());
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
      complete(p, Protocol.OK, null, out);
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
        byte status = w.op == Protocol.GET ? Protocol.EMPTY : w.op == Protocol.PUT ? Protocol.FULL : Protocol.CANCELLED;
        w.client.connection.write(Protocol.answer(w.requestId, status, (byte[]) null));
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
    out.send(w.client, Protocol.answer(w.requestId, status, payload));
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
