package io.procpool.core.internal;

import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.Executor;

/**
 * Gathers the chunks of one {@code map}/{@code mapAsync} into a list in input order. The first chunk
 * to fail fails the whole result (as in Python) and withdraws the chunks not started yet.
 */
final class MapResult<R> implements ChunkTask.Sink, AsyncResultImpl.Canceller {
  private final PoolImpl pool;
  final AsyncResultImpl<List<R>> result;
  private final Object[] values;
  private List<ChunkTask> chunks;
  private int remaining;
  private int[] offsets;

  MapResult(PoolImpl pool, int n, Executor callbacks) {
    this.pool = pool;
    this.values = new Object[n];
    this.result = new AsyncResultImpl<>(callbacks, this);
  }

  /** Called once with every chunk, before any is submitted. */
  @SuppressWarnings("unchecked")
  synchronized void start(List<ChunkTask> chunks) {
    this.chunks = chunks;
    this.remaining = chunks.size();
    this.offsets = new int[chunks.size()];
    for (int i = 1; i < chunks.size(); i++) {
      offsets[i] = offsets[i - 1] + chunks.get(i - 1).size;
    }
    if (remaining == 0) {
      result.succeed((List<R>) Collections.unmodifiableList(Arrays.asList(values)));
    }
  }

  @Override
  @SuppressWarnings("unchecked")
  public void onChunk(ChunkTask chunk, List<Object> chunkValues, Throwable failure, boolean thrownByTask) {
    boolean complete;
    synchronized (this) {
      if (result.isDone()) {
        return;
      }
      if (failure == null) {
        int at = offsets[chunk.index];
        for (int i = 0; i < chunkValues.size(); i++) {
          values[at + i] = chunkValues.get(i);
        }
        complete = --remaining == 0;
      } else {
        complete = false;
      }
    }
    if (failure != null) {
      boolean failed = thrownByTask ? result.failByTask(failure) : result.fail(failure);
      if (failed) {
        withdraw();
      }
    } else if (complete) {
      result.succeed((List<R>) Collections.unmodifiableList(Arrays.asList(values)));
    }
  }

  private void withdraw() {
    for (ChunkTask c : chunks) {
      pool.cancel(c, false);
    }
  }

  @Override
  public boolean cancel(boolean mayInterruptIfRunning) {
    if (!result.markCancelled()) {
      return false;
    }
    for (ChunkTask c : chunks) {
      pool.cancel(c, mayInterruptIfRunning);
    }
    return true;
  }
}
