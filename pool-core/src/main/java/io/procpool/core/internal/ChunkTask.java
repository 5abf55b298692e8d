package io.procpool.core.internal;

import java.util.List;

/** A chunk of consecutive map/imap items sent as one message. */
final class ChunkTask extends Task {
  /** Receives the outcome of chunks. */
  interface Sink {
    /**
     * @param index the chunk's position among its siblings
     * @param values the results of the items that ran, in order
     * @param failure the failure that stopped the chunk, or null
     */
    void onChunk(ChunkTask chunk, List<Object> values, Throwable failure, boolean thrownByTask);
  }

  final Sink sink;
  final int index;
  final int size;

  ChunkTask(TaskEncoder.Encoded encoded, Sink sink, int index, int size) {
    super(encoded.id(), encoded.function(), encoded.message(), size);
    this.sink = sink;
    this.index = index;
    this.size = size;
  }

  @Override
  void onValue(Object value) {
    onFailure(new IllegalStateException("protocol error: single result for a chunk"), false);
  }

  @Override
  void onChunk(List<Object> values, Throwable failure, boolean thrownByTask) {
    sink.onChunk(this, values, failure, thrownByTask);
  }

  @Override
  void onFailure(Throwable error, boolean thrownByTask) {
    sink.onChunk(this, List.of(), error, thrownByTask);
  }

  @Override
  void onCancelled() {
    sink.onChunk(this, List.of(), new java.util.concurrent.CancellationException("cancelled"), false);
  }
}
