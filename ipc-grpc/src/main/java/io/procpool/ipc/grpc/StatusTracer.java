package io.procpool.ipc.grpc;

import io.grpc.Context;
import io.grpc.Metadata;
import io.grpc.ServerStreamTracer;
import io.grpc.Status;

/**
 * Remembers the status a server stream ended with. A server call's {@code onCancel} carries no
 * status, but the connection must tell an oversized inbound message (a protocol error) from a lost
 * peer; gRPC reports the status to stream tracers before it calls {@code onCancel}.
 */
final class StatusTracer extends ServerStreamTracer {
  /** Where the call's handler finds the tracer of its stream. */
  static final Context.Key<StatusTracer> KEY = Context.key("procpool-status-tracer");

  private volatile Status closedStatus;

  @Override
  public Context filterContext(Context context) {
    return context.withValue(KEY, this);
  }

  @Override
  public void streamClosed(Status status) {
    closedStatus = status;
  }

  /** The status the stream ended with, or null while it has not ended. */
  Status closedStatus() {
    return closedStatus;
  }

  static final class Factory extends ServerStreamTracer.Factory {
    @Override
    public ServerStreamTracer newServerStreamTracer(String fullMethodName, Metadata headers) {
      return new StatusTracer();
    }
  }
}
