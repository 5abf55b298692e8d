package io.procpool.ipc.grpc;

import com.google.protobuf.CodedOutputStream;
import io.procpool.api.spi.ProtocolException;

/**
 * How large gRPC messages may be for a given {@code maxFrameSize}, how large the {@code Frames}
 * batches are made, and how many of them may wait inbound.
 */
final class Sizes {
  private Sizes() {}

  /** What gRPC adds around our payload at most: per-entry tag and length, plus some slack. */
  static final int FRAMING_SLACK = 64;

  /** The largest batch we aim for; a single larger message still travels alone. */
  static final int BATCH_TARGET_BYTES = 256 * 1024;

  /**
   * How many inbound batches gRPC may deserialize ahead of the listener. One: delivery runs on the
   * event loop, so the next batch is requested right after the listener returned, without a
   * hand-off, and a listener whose replies are stuck pauses reading at once.
   */
  static final int INBOUND_WINDOW = 1;

  /** The gRPC inbound message size limit for a given maxFrameSize: one message plus its framing. */
  static int grpcMessageLimit(int maxFrameSize) {
    return (int) Math.min(Integer.MAX_VALUE, (long) maxFrameSize + FRAMING_SLACK);
  }

  /** The encoded size of one message inside a {@code Frames} batch (tag, length, bytes). */
  static int encodedEntrySize(int length) {
    return 1 + CodedOutputStream.computeUInt32SizeNoTag(length) + length;
  }

  static ProtocolException tooLarge(int maxFrameSize) {
    return new ProtocolException("grpc: message larger than maxFrameSize " + maxFrameSize);
  }
}
