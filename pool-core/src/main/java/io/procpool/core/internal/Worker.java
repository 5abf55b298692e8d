package io.procpool.core.internal;

import io.procpool.api.spi.Connection;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ScheduledFuture;

/** The parent's view of one worker. Guarded by the pool's lock unless noted. */
final class Worker {
  /** Functions a worker keeps; past this the least recently used is forgotten on both sides. */
  static final int MAX_FUNCTIONS = 1024;

  enum State {
    /** Launched; not connected or not initialized yet. */
    STARTING,
    /** Takes tasks. */
    READY,
    /** Takes no new tasks (maxTasksPerChild reached); exits when its tasks are done. */
    RETIRING,
    /** Told to exit. */
    STOPPING,
    /** Gone. */
    DEAD
  }

  final int id;
  /** Started by hand, not by the pool: never replaced when it dies. */
  boolean external;
  WorkerLauncher.Launched process;
  volatile long pid = -1;
  Connection connection;
  State state = State.STARTING;
  final ArrayDeque<Task> inflight = new ArrayDeque<>();
  int dispatched;
  /** When it last got a task, in pool-wide assignment order. */
  long lastAssigned;
  /** Why the pool killed it, if it did: the head task fails with this instead of a crash. */
  RuntimeException killedFor;
  Task killedTask;
  ScheduledFuture<?> startTimeout;
  boolean needsFlush;

  private int lastDefined = -1;
  private final LinkedHashMap<Integer, Boolean> functions = new LinkedHashMap<>(64, 0.75f, true);

  Worker(int id) {
    this.id = id;
  }

  /**
   * Writes the DEFINE message of {@code fn} unless this worker has it, and a FORGET for the function
   * it evicts to make room.
   */
  void ensureDefined(FunctionTable.Entry fn) {
    if (fn.id == lastDefined) {
      return; // already the most recently used: nothing to send, nothing to reorder
    }
    lastDefined = fn.id;
    if (functions.get(fn.id) != null) {
      return;
    }
    connection.write(fn.defineMessage());
    functions.put(fn.id, Boolean.TRUE);
    if (functions.size() > MAX_FUNCTIONS) {
      Iterator<Map.Entry<Integer, Boolean>> it = functions.entrySet().iterator();
      int evicted = it.next().getKey();
      it.remove();
      ByteBuffer forget = ByteBuffer.allocate(5).put(Protocol.FORGET).putInt(evicted);
      connection.write(forget.flip());
    }
  }

  @Override
  public String toString() {
    return (external ? "external worker " : "worker ") + id + " (pid " + pid + ")";
  }
}
