package io.procpool.core.internal;

import io.procpool.api.spi.Connection;
import io.procpool.api.spi.ProtocolException;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;

/**
 * Receives one worker's messages on its transport thread: decodes each one completely (values
 * included, so that no decoding happens under the scheduler's lock) and hands it to the
 * {@link Scheduler} or the {@link WorkerSupervisor}. A message that breaks the protocol closes the
 * connection (telling the peer why where the transport can) and ends the worker.
 */
final class WorkerChannel implements Connection.Listener {
  private static final System.Logger LOG = System.getLogger("io.procpool");

  private final Connection connection;
  private final Scheduler scheduler;
  private final WorkerSupervisor supervisor;
  private final Payloads payloads;
  /** Set by the HELLO; only this channel's (single) transport thread touches it. */
  private WorkerHandle worker;
  /** Whether a LOG that could not be re-emitted was reported (once per worker). */
  private boolean reemitFailureReported;

  WorkerChannel(Connection connection, Scheduler scheduler, WorkerSupervisor supervisor, Payloads payloads) {
    this.connection = connection;
    this.scheduler = scheduler;
    this.supervisor = supervisor;
    this.payloads = payloads;
  }

  @Override
  public void onMessage(ByteBuffer m) {
    byte type = -1;
    int bytes = m.remaining();
    scheduler.received(bytes);
    try {
      type = m.get();
      if (worker == null) {
        if (type != WorkerProtocol.HELLO) {
          throw new ProtocolException("expected HELLO, got message type " + type);
        }
        worker = supervisor.onHello(connection, WorkerProtocol.decodeHello(m));
        return;
      }
      if (worker.cluster) {
        worker.lastHeardNanos = scheduler.clock().nanoTime(); // the heartbeat watches cluster workers only
      }
      switch (type) {
        case WorkerProtocol.PONG:
          break;
        case WorkerProtocol.RESULT:
          scheduler.onResult(worker, WorkerProtocol.decodeResult(m, payloads), bytes);
          break;
        case WorkerProtocol.OUTPUT:
          print(WorkerProtocol.decodeOutput(m));
          break;
        case WorkerProtocol.LOG: {
          WorkerProtocol.Log record = WorkerProtocol.decodeLog(m, payloads);
          Throwable failure = reemit(worker.pid, record);
          if (failure != null && !reemitFailureReported) {
            reemitFailureReported = true;
            System.err.println("procpool: a log record of " + worker + " for logger '" + record.loggerName()
                + "' could not be re-emitted (the logging backend threw " + failure + "); the worker goes on,"
                + " and further such failures of this worker are not reported");
          }
          break;
        }
        case WorkerProtocol.RECALLED:
          scheduler.onRecalled(worker, WorkerProtocol.decodeRecalled(m));
          break;
        case WorkerProtocol.READY:
          scheduler.onReady(worker);
          break;
        case WorkerProtocol.RETIRE:
          scheduler.onRetire(worker);
          break;
        case WorkerProtocol.SECRET: {
          // Answered from this JVM's registry of manager keys, on this worker's own channel.
          WorkerProtocol.SecretRequest r = WorkerProtocol.decodeSecret(m);
          connection.write(WorkerProtocol.secretReply(r.requestId(), Secrets.lookupLocal(r.fingerprint())));
          try {
            connection.flush();
          } catch (IOException e) {
            // onClosed follows
          }
          break;
        }
        case WorkerProtocol.INIT_FAILED:
          supervisor.onInitFailed(worker, WorkerProtocol.decodeInitFailed(m, payloads).error);
          break;
        default:
          throw new ProtocolException("unexpected message type " + type);
      }
    } catch (BufferUnderflowException e) {
      protocolError(new ProtocolException("truncated message of type " + type + " (" + m.limit() + " bytes)", e));
    } catch (ProtocolException | RuntimeException e) {
      protocolError(e);
    }
  }

  /**
   * A large frame in a buffer the transport lends: decoded completely during {@link #onMessage}, like
   * every message, so it is given back at once and the transport reads the next one into the same
   * memory (unless a custom codec decoded it: see {@link Payloads#decodesIntoNewMemory}).
   */
  @Override
  public void onLentMessage(ByteBuffer m, Runnable release) {
    onMessage(m);
    if (payloads.decodesIntoNewMemory()) {
      release.run();
    }
  }

  private void protocolError(Exception e) {
    if (e instanceof WorkerSupervisor.NotNeeded) {
      LOG.log(System.Logger.Level.DEBUG, "procpool: closing " + connection.describe() + ": " + e.getMessage());
    } else {
      LOG.log(System.Logger.Level.WARNING, "procpool: closing " + (worker != null ? worker : connection.describe())
          + " after a protocol error: " + e);
    }
    ProtocolException error = e instanceof ProtocolException ? (ProtocolException) e
        : new ProtocolException("malformed message: " + e, e);
    connection.close(error); // first, so that the peer is told why where the transport can
    WorkerHandle w = worker;
    if (w != null) {
      scheduler.protocolError(w, error);
    }
  }

  private static void print(WorkerProtocol.Output output) {
    PrintStream out = output.stream() == WorkerProtocol.STREAM_ERR ? System.err : System.out;
    out.write(output.bytes(), 0, output.bytes().length);
    out.flush();
  }

  /**
   * Re-emits a worker's log record through {@code System.getLogger} under its logger's name (the
   * root logger's, {@code ""}, for an anonymous one) with the mapped level (see {@link #level}) and its
   * exception, the message prefixed with {@code "[worker PID THREAD] "}. Never throws. The new
   * record has this JVM's time and thread (System.Logger cannot carry the worker's; records arrive
   * within milliseconds) and the logging backend may name this class as its source.
   *
   * @return null, or what the logging backend threw
   */
  static Throwable reemit(long pid, WorkerProtocol.Log record) {
    try {
      System.Logger logger = System.getLogger(record.loggerName() == null ? "" : record.loggerName());
      System.Logger.Level level = level(record.level());
      if (logger.isLoggable(level)) {
        String message = "[worker " + pid + " " + record.threadName() + "] " + record.message();
        if (record.thrown() == null) {
          logger.log(level, message);
        } else {
          logger.log(level, message, record.thrown());
        }
      }
      return null;
    } catch (RuntimeException | LinkageError | StackOverflowError e) {
      return e;
    }
  }

  /**
   * The {@code System.Logger} level of a {@code java.util.logging} level value: SEVERE → ERROR,
   * WARNING → WARNING, INFO → INFO, CONFIG and FINE → DEBUG, FINER and FINEST → TRACE; a custom level
   * maps as the standard level at or below it.
   */
  static System.Logger.Level level(int julLevel) {
    if (julLevel >= java.util.logging.Level.SEVERE.intValue()) {
      return System.Logger.Level.ERROR;
    } else if (julLevel >= java.util.logging.Level.WARNING.intValue()) {
      return System.Logger.Level.WARNING;
    } else if (julLevel >= java.util.logging.Level.INFO.intValue()) {
      return System.Logger.Level.INFO;
    } else if (julLevel >= java.util.logging.Level.FINE.intValue()) {
      return System.Logger.Level.DEBUG;
    } else {
      return System.Logger.Level.TRACE;
    }
  }

  @Override
  public void onReadComplete() {
    if (worker != null) {
      scheduler.dispatchAndFlush();
    }
  }

  @Override
  public void onClosed(Throwable cause) {
    WorkerHandle w = worker;
    if (w != null) {
      scheduler.workerLost(w, cause);
    }
  }
}
