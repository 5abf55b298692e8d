package io.procpool.ipc.grpc;

import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;

/**
 * Admits a stream to the {@link Handshake} only if its headers name the protocol version this side
 * speaks and carry a client nonce; refuses it otherwise with a status whose description the worker's
 * {@code connect} turns into a clear {@link io.procpool.api.spi.ProtocolException}. The key itself is
 * checked by the challenge–response that follows, in {@link ServerConnection}.
 */
final class AuthInterceptor implements ServerInterceptor {

  @Override
  public <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(
      ServerCall<ReqT, RespT> call, Metadata headers, ServerCallHandler<ReqT, RespT> next) {
    Status refusal = check(headers);
    if (refusal != null) {
      call.close(refusal, new Metadata());
      return new ServerCall.Listener<>() {};
    }
    return next.startCall(call, headers);
  }

  private static Status check(Metadata headers) {
    String version = headers.get(Handshake.VERSION_KEY);
    if (!Handshake.PROTOCOL_VERSION.equals(version)) {
      return Status.FAILED_PRECONDITION.withDescription("procpool: protocol version mismatch: the worker speaks "
          + version + ", the pool speaks " + Handshake.PROTOCOL_VERSION
          + " (use the same procpool version on both sides)");
    }
    byte[] nonce = headers.get(Handshake.CLIENT_NONCE);
    if (nonce == null || nonce.length != Handshake.NONCE_BYTES) {
      return Status.UNAUTHENTICATED.withDescription(Handshake.MISSING_NONCE_MESSAGE);
    }
    return null;
  }
}
