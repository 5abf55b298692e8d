package io.procpool.ipc.grpc;

import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.security.MessageDigest;

/**
 * Admits a stream only if its headers carry the pool's auth key (compared in constant time) and the
 * protocol version this side speaks; refuses it otherwise with a status whose description the
 * worker's {@code connect} turns into a clear {@link io.procpool.api.spi.ProtocolException}.
 */
final class AuthInterceptor implements ServerInterceptor {
  private final byte[] key;

  AuthInterceptor(byte[] key) {
    this.key = key.clone();
  }

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

  private Status check(Metadata headers) {
    byte[] presented = headers.get(Handshake.AUTH_KEY);
    if (presented == null) {
      return Status.UNAUTHENTICATED.withDescription(Handshake.MISSING_KEY_MESSAGE);
    }
    if (!MessageDigest.isEqual(presented, key)) {
      return Status.UNAUTHENTICATED.withDescription(Handshake.BAD_KEY_MESSAGE);
    }
    String version = headers.get(Handshake.VERSION_KEY);
    if (!Handshake.PROTOCOL_VERSION.equals(version)) {
      return Status.FAILED_PRECONDITION.withDescription("procpool: protocol version mismatch: the worker speaks "
          + version + ", the pool speaks " + Handshake.PROTOCOL_VERSION);
    }
    return null;
  }
}
