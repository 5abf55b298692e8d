package io.procpool.manager.internal;

import io.procpool.api.ManagedQueue;
import io.procpool.api.Manager;
import io.procpool.api.ProcPoolException;
import io.procpool.core.internal.process.ChildJvm;
import io.procpool.manager.internal.ManagerProtocol.Answer;
import io.procpool.manager.internal.ManagerProtocol.Delete;
import io.procpool.manager.internal.ManagerProtocol.NoFields;
import io.procpool.manager.internal.ManagerProtocol.Open;
import io.procpool.manager.internal.ManagerProtocol.Opened;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A {@link Manager}: a started manager process (with its {@link ChildJvm}) or a connection to a
 * running one.
 */
public final class ManagerHandle implements Manager {
  private static final long SHUTDOWN_WAIT_MILLIS = 5000;

  private final ManagerClient client;
  private final ChildJvm jvm; // null when connected to a manager started elsewhere
  private final AtomicBoolean closed = new AtomicBoolean();

  /**
   * @param client the shared client of the manager (connected already)
   * @param jvm the manager's process if this JVM started it, else {@code null}
   */
  public ManagerHandle(ManagerClient client, ChildJvm jvm) {
    this.client = client;
    this.jvm = jvm;
  }

  /** The manager process's pid, or -1 if this JVM did not start it. */
  public long pid() {
    return jvm == null ? -1 : jvm.pid();
  }

  @Override
  public <E> ManagedQueue<E> queue() {
    return open(new Open(false, false, 0, ""));
  }

  @Override
  public <E> ManagedQueue<E> queue(int maxsize) {
    return open(new Open(false, false, maxsize, ""));
  }

  @Override
  public <E> ManagedQueue<E> queue(String name) {
    return open(new Open(true, false, 0, checkName(name)));
  }

  @Override
  public <E> ManagedQueue<E> queue(String name, int maxsize) {
    return open(new Open(true, true, maxsize, checkName(name)));
  }

  private static String checkName(String name) {
    Objects.requireNonNull(name, "name");
    if (name.isEmpty()) {
      throw new IllegalArgumentException("a queue name must not be empty");
    }
    return name; // its length is checked by Open
  }

  private <E> ManagedQueue<E> open(Open request) {
    if (closed.get()) {
      throw new IllegalStateException("this manager handle is closed");
    }
    Answer a = client.call(request);
    switch (a.status()) {
      case ManagerProtocol.OK: {
        Opened opened = Opened.decode(a.payload());
        return new QueueProxy<>(client, opened.queueId(), request.name(), opened.maxsize());
      }
      case ManagerProtocol.ILLEGAL_ARGUMENT:
        throw new IllegalArgumentException(a.message());
      default:
        throw new ProcPoolException("the manager at " + address() + " could not open a queue: "
            + ManagerProtocol.statusName(a.status()) + " " + a.message());
    }
  }

  @Override
  public boolean deleteQueue(String name) {
    Answer a = client.call(new Delete(checkName(name)));
    switch (a.status()) {
      case ManagerProtocol.OK:
        return true;
      case ManagerProtocol.NO_SUCH_QUEUE:
        return false;
      default:
        throw new ProcPoolException("the manager at " + address() + " could not delete queue '" + name + "': "
            + ManagerProtocol.statusName(a.status()) + " " + a.message());
    }
  }

  /** What the manager holds now: for tests and diagnostics (not API). */
  public record Stats(int queues, long items, long itemBytes) {}

  /** Asks the manager how many queues, items and item bytes it holds now (not API). */
  public Stats stats() {
    Answer a = client.call(new NoFields(ManagerProtocol.STATS));
    if (a.status() != ManagerProtocol.OK) {
      throw new ProcPoolException("the manager at " + address() + " did not answer STATS: "
          + ManagerProtocol.statusName(a.status()) + " " + a.message());
    }
    ManagerProtocol.Stats s = ManagerProtocol.Stats.decode(a.payload());
    return new Stats(s.queues(), s.items(), s.itemBytes());
  }

  /** Whether the manager still holds the queue with this id (see the proxy's {@code toString}); not API. */
  public boolean queueExists(long queueId) {
    Answer a = client.call(new ManagerProtocol.QueueOnly(ManagerProtocol.QSIZE, queueId));
    return a.status() != ManagerProtocol.NO_SUCH_QUEUE;
  }

  @Override
  public String address() {
    return client.displayAddress();
  }

  @Override
  public byte[] authKey() {
    return client.authKey();
  }

  @Override
  public void close() {
    if (!closed.compareAndSet(false, true) || jvm == null) {
      return;
    }
    if (!jvm.onExit().isDone()) {
      try {
        client.call(new NoFields(ManagerProtocol.SHUTDOWN), TimeUnit.SECONDS.toNanos(2));
      } catch (ProcPoolException e) {
        // Already gone or not answering: the wait below decides.
      }
    }
    try {
      jvm.onExit().get(SHUTDOWN_WAIT_MILLIS, TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      jvm.kill();
      try {
        jvm.onExit().get(5, TimeUnit.SECONDS);
      } catch (Exception ignored) {
        // reported by the pid check of whoever cares
      }
    } catch (InterruptedException e) {
      jvm.kill();
      Thread.currentThread().interrupt();
    } catch (Exception e) {
      jvm.kill();
    }
    client.discard();
  }

  @Override
  public String toString() {
    return "Manager[" + address() + (jvm == null ? "" : ", pid " + jvm.pid()) + "]";
  }
}
