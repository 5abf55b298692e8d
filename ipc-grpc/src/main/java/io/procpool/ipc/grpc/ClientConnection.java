package io.procpool.ipc.grpc;

import com.google.protobuf.ByteString;
import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.procpool.api.spi.ProtocolException;
import io.procpool.ipc.grpc.internal.proto.Frames;
import io.procpool.ipc.grpc.internal.proto.WorkerChannelGrpc;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.security.MessageDigest;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/** The worker's side: drives a {@link ClientCall} on a channel of its own, closed with it. */
final class ClientConnection extends GrpcConnection {
  /** How long a local close waits for the server to end the stream before dropping the channel. */
  private static final long END_WAIT_MILLIS = 200;

  private final ManagedChannel channel;
  /** The channel's own event loop, ended with it. */
  private final io.grpc.netty.shaded.io.netty.channel.EventLoopGroup group;
  private final java.util.concurrent.atomic.AtomicBoolean released = new java.util.concurrent.atomic.AtomicBoolean();
  /** Counted down when the call has ended. */
  private final java.util.concurrent.CountDownLatch ended = new java.util.concurrent.CountDownLatch(1);
  private final ClientCall<Frames, Frames> call;
  private final String address;
  /** Completes when the server accepted the stream (its ack batch arrived). */
  private final CompletableFuture<Void> accepted = new CompletableFuture<>();
  /** The key, or null (tests: a client that cannot prove it). */
  private final byte[] authKey;
  private final byte[] clientNonce = Handshake.nonce();
  /** Set on the callback executor once the server proved the key and our proof was sent. */
  private volatile boolean serverVerified;

  private ClientConnection(ManagedChannel channel, io.grpc.netty.shaded.io.netty.channel.EventLoopGroup group,
      String address, int maxFrameSize, boolean tls, byte[] authKey) {
    super(maxFrameSize, "grpc" + (tls ? "+tls" : "") + ":" + address);
    this.channel = channel;
    this.group = group;
    this.address = address;
    this.authKey = authKey;
    this.call = channel.newCall(WorkerChannelGrpc.getOpenMethod(), CallOptions.DEFAULT);
    useLoop(group.next()); // the channel's only event loop
  }

  /**
   * Opens the stream, runs the {@link Handshake} with {@code authKey} (if null, for tests: sends an
   * empty proof without checking the server's) and waits until the server accepted it. The key
   * itself is never sent.
   */
  static ClientConnection open(ManagedChannel channel, io.grpc.netty.shaded.io.netty.channel.EventLoopGroup group,
      String address, int maxFrameSize, boolean tls, byte[] authKey, long timeoutMillis) throws IOException {
    ClientConnection c = new ClientConnection(channel, group, address, maxFrameSize, tls, authKey);
    Metadata headers = new Metadata();
    headers.put(Handshake.VERSION_KEY, Handshake.PROTOCOL_VERSION);
    headers.put(Handshake.CLIENT_NONCE, c.clientNonce);
    c.sendLock.lock();
    try {
      c.call.start(c.new CallListener(), headers);
      c.call.request(1); // the ack
    } finally {
      c.sendLock.unlock();
    }
    try {
      c.accepted.get(timeoutMillis, TimeUnit.MILLISECONDS);
      return c;
    } catch (ExecutionException e) {
      c.close();
      Throwable cause = e.getCause();
      if (cause instanceof IOException) {
        throw (IOException) cause;
      }
      throw new IOException("grpc: cannot connect to " + address + ": " + cause, cause);
    } catch (TimeoutException e) {
      c.close();
      throw new IOException("grpc: " + address + " did not accept the connection within " + timeoutMillis + " ms");
    } catch (InterruptedException e) {
      c.close();
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted while connecting to " + address);
    }
  }

  private IOException handshakeFailure(Status status) {
    switch (status.getCode()) {
      case UNAUTHENTICATED:
        return new ProtocolException("grpc: " + address + " refused the connection: " + status.getDescription()
            + " (check that the worker was given the pool's auth key)", status.asException());
      case FAILED_PRECONDITION:
      case UNIMPLEMENTED:
        return new ProtocolException("grpc: " + address + " refused the connection: " + Statuses.describe(status)
            + " (is it a procpool grpc server of the same version?)", status.asException());
      default:
        return new IOException("grpc: cannot connect to " + address + ": " + Statuses.describe(status),
            status.asException());
    }
  }

  private final class CallListener extends ClientCall.Listener<Frames> {
    @Override
    public void onHeaders(Metadata headers) {
      String version = headers.get(Handshake.VERSION_KEY);
      if (!Handshake.PROTOCOL_VERSION.equals(version)) {
        ProtocolException e = new ProtocolException("grpc: " + address + " speaks procpool protocol version "
            + version + ", this worker speaks " + Handshake.PROTOCOL_VERSION);
        accepted.completeExceptionally(e);
        abort(e);
        return;
      }
      byte[] serverNonce = headers.get(Handshake.SERVER_NONCE);
      byte[] serverProof = headers.get(Handshake.SERVER_PROOF);
      byte[] proof;
      if (authKey != null) {
        if (serverNonce == null || serverProof == null || serverNonce.length != Handshake.NONCE_BYTES
            || !MessageDigest.isEqual(serverProof,
                Handshake.proof(authKey, Handshake.SERVER, clientNonce, serverNonce))) {
          ProtocolException e = new ProtocolException("grpc: authentication refused by " + address + ": the auth key"
              + " did not match the server's key (the endpoint did not prove that it knows this client's key: a wrong"
              + " key, or not the expected pool or manager at all, e.g. a spoofed endpoint on a reused port; nothing"
              + " was sent to it)");
          accepted.completeExceptionally(e);
          abort(e);
          return;
        }
        proof = Handshake.proof(authKey, Handshake.CLIENT, clientNonce, serverNonce);
      } else {
        proof = new byte[0];
      }
      sendLock.lock();
      try {
        call.sendMessage(Frames.newBuilder().addMessages(ByteString.copyFrom(proof)).build());
      } catch (RuntimeException e) {
        // The call ended; onClose reports it.
      } finally {
        sendLock.unlock();
      }
      serverVerified = true;
    }

    @Override
    public void onMessage(Frames message) {
      if (!accepted.isDone()) {
        if (!serverVerified) {
          ProtocolException e = new ProtocolException("grpc: " + address
              + " sent data before proving that it knows the pool's auth key");
          accepted.completeExceptionally(e);
          abort(e);
          return;
        }
        accepted.complete(null); // the server's ack: an empty batch
        if (message.getMessagesCount() == 0) {
          return;
        }
      }
      onFrames(message);
    }

    @Override
    public void onClose(Status status, Metadata trailers) {
      if (!accepted.isDone()) {
        accepted.completeExceptionally(handshakeFailure(status));
        terminate(null);
        return;
      }
      terminate(Statuses.causeOf(status, maxFrameSize, address));
    }

    @Override
    public void onReady() {
      onCallReady();
    }
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
    // End our side cleanly: the server delivers what we sent, then ends the stream (onHalfClose), and
    // the call's onClose ends this connection. If it does not within a moment, release() drops the
    // channel, which cancels the stream. (Cancelling at once would make the server drop whatever it
    // had received and not yet delivered.)
    call.halfClose();
  }

  @Override
  void callAbort(Throwable cause) {
    call.cancel("procpool: " + cause.getMessage(), cause);
  }

  @Override
  void afterTerminated() {
    ended.countDown();
    release();
  }

  /**
   * Closes the stream, then ends the channel and its event loop (see {@link ClientEventLoops}),
   * waiting a moment for the stream's end to be sent and for the loop's thread to finish.
   */
  @Override
  public void close() {
    super.close();
    awaitEndThenRelease();
  }

  @Override
  public void close(Throwable reason) {
    super.close(reason);
    awaitEndThenRelease();
  }

  private void awaitEndThenRelease() {
    if (group.next().inEventLoop()) {
      // Closed from a listener, on the loop that processes the end: cannot wait for it here.
      if (ended.getCount() > 0) {
        Callbacks.TIMER.schedule(this::release, END_WAIT_MILLIS, TimeUnit.MILLISECONDS);
      }
      return;
    }
    try {
      ended.await(END_WAIT_MILLIS, TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    release();
  }

  private void release() {
    if (released.compareAndSet(false, true)) {
      // The channel first, the loop after: a channel shut down after its loop logs a gRPC "panic".
      channel.shutdownNow();
      ClientEventLoops.shutdown(group); // waits for the loop's thread unless on it
    } else {
      ClientEventLoops.awaitExit(group); // released on another thread: still wait for the loop here
    }
  }
}
