package io.procpool.ipc.grpc;

import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.Status;
import io.procpool.api.spi.ProtocolException;
import io.procpool.ipc.grpc.internal.proto.Frames;
import java.io.IOException;
import java.net.SocketAddress;
import java.security.MessageDigest;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * The parent's side of one worker's stream: drives a {@link ServerCall}. It starts unauthenticated:
 * the first inbound message must be the client's proof of the key ({@link Handshake}); only then is
 * the ack sent and the connection handed to the pool.
 */
final class ServerConnection extends GrpcConnection {
  private final ServerCall<Frames, Frames> call;
  private final StatusTracer tracer;
  private final Runnable onEnd;
  private final byte[] expectedProof;
  private final Consumer<ServerConnection> onAuthenticated;
  private volatile boolean authenticated;
  private volatile ScheduledFuture<?> deadline;

  ServerConnection(ServerCall<Frames, Frames> call, StatusTracer tracer, int maxFrameSize, byte[] expectedProof,
      Consumer<ServerConnection> onAuthenticated, Runnable onEnd) {
    super(maxFrameSize, describe(call));
    this.call = call;
    this.tracer = tracer;
    this.onEnd = onEnd;
    this.expectedProof = expectedProof;
    this.onAuthenticated = onAuthenticated;
  }

  /** Closes the stream unless the client proved the key within {@code millis}. */
  void authenticateWithin(long millis) {
    deadline = Callbacks.TIMER.schedule(() -> {
      if (!authenticated) {
        close(new ProtocolException("grpc: " + describe() + " did not authenticate within " + millis + " ms"));
      }
    }, millis, TimeUnit.MILLISECONDS);
  }

  /** The first inbound message: the client's proof. Runs on the call's serialized executor. */
  private void handshake(Frames message) {
    boolean ok = message.getMessagesCount() == 1
        && MessageDigest.isEqual(message.getMessages(0).toByteArray(), expectedProof);
    ScheduledFuture<?> d = deadline;
    if (d != null) {
      d.cancel(false);
    }
    if (!ok) {
      String why = message.getMessagesCount() == 1 && message.getMessages(0).isEmpty()
          ? Handshake.MISSING_KEY_MESSAGE
          : Handshake.BAD_KEY_MESSAGE;
      sendLock.lock();
      try {
        call.close(Status.UNAUTHENTICATED.withDescription(why), new Metadata());
      } catch (RuntimeException ignored) {
        // Already closed.
      } finally {
        sendLock.unlock();
      }
      close();
      return;
    }
    authenticated = true;
    sendLock.lock();
    try {
      call.sendMessage(Frames.getDefaultInstance()); // the ack the worker's connect() waits for
    } catch (RuntimeException ignored) {
      // The stream already ended; its final callback reports it.
    } finally {
      sendLock.unlock();
    }
    onAuthenticated.accept(this);
  }

  private static String describe(ServerCall<?, ?> call) {
    SocketAddress remote = call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR);
    return "grpc:" + (remote != null ? remote.toString().replaceFirst("^.*/", "") : "unknown-peer");
  }

  /** The gRPC listener of the call; returned from startCall. */
  ServerCall.Listener<Frames> callListener() {
    return new ServerCall.Listener<>() {
      @Override
      public void onMessage(Frames message) {
        if (authenticated) {
          onFrames(message);
        } else {
          handshake(message);
        }
      }

      @Override
      public void onHalfClose() {
        // The worker ended its side cleanly: end ours too.
        sendLock.lock();
        try {
          call.close(Status.OK, new Metadata());
        } catch (RuntimeException ignored) {
          // Already closed.
        } finally {
          sendLock.unlock();
        }
        terminate(null);
      }

      @Override
      public void onCancel() {
        terminate(cancelCause());
      }

      @Override
      public void onComplete() {
        terminate(null);
      }

      @Override
      public void onReady() {
        onCallReady();
      }
    };
  }

  private IOException cancelCause() {
    Status status = tracer != null ? tracer.closedStatus() : null;
    if (status != null && status.getCode() == Status.Code.CANCELLED) {
      // The worker cancelled its stream (RST_STREAM CANCEL): that is how a worker closes its
      // connection, so it is a clean end, like EOF on a pipe. A lost connection is UNAVAILABLE.
      return null;
    }
    if (status != null && Statuses.isSizeViolation(status)) {
      return new ProtocolException(
          "grpc: message larger than maxFrameSize " + maxFrameSize + " (" + status.getDescription() + ")",
          status.asException());
    }
    String what = status != null ? Statuses.describe(status) : "CANCELLED";
    return new IOException("grpc: the stream from " + describe() + " was cancelled or its connection lost: " + what);
  }

  @Override
  boolean callIsReady() {
    return call.isReady();
  }

  @Override
  void callSend(Frames frames) {
    call.sendMessage(frames);
  }

  @Override
  void callRequest(int n) {
    call.request(n);
  }

  @Override
  void callCloseLocally() {
    call.close(Status.OK, new Metadata());
  }

  @Override
  void callAbort(Throwable cause) {
    Status status = cause instanceof ProtocolException ? Status.INVALID_ARGUMENT : Status.INTERNAL;
    call.close(status.withDescription("procpool: " + cause.getMessage()), new Metadata());
  }

  @Override
  void afterTerminated() {
    ScheduledFuture<?> d = deadline;
    if (d != null) {
      d.cancel(false);
    }
    onEnd.run();
  }
}
