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
      switch (type) {
        case WorkerProtocol.RESULT:
          scheduler.onResult(worker, WorkerProtocol.decodeResult(m, payloads), bytes);
          break;
        case WorkerProtocol.OUTPUT:
          print(WorkerProtocol.decodeOutput(m));
          break;
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

  private void protocolError(Exception e) {
    LOG.log(System.Logger.Level.WARNING, "procpool: closing " + (worker != null ? worker : connection.describe())
        + " after a protocol error: " + e);
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
