package io.procpool.core.internal;

import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.Executor;

/**
 * Gathers the chunks of one {@code map}/{@code mapAsync} into a list in input order. A failure fails
 * the whole result with the failure of the first failing item in input order: once a chunk fails,
 * the chunks after it are withdrawn, and the result fails as soon as every chunk before it is done
 * (so the answer does not depend on timing, unlike Python's).
 */
final class MapResult<R> implements ChunkTask.Sink, AsyncResultImpl.Canceller {
  private final Scheduler scheduler;
  final AsyncResultImpl<List<R>> result;
  /** The map's progress listener, or null. */
  private final ProgressTracker progress;
  /** The outcome is decided (it may complete a little later, after the final progress call). */
  private boolean decided;
  /** Items counted in {@link #progress}. */
  private long counted;
  private final Object[] values;
  private List<ChunkTask> chunks;
  private int remaining;
  private int[] offsets;
  private boolean[] done;
  /** Chunks 0..prefixDone-1 are done. */
  private int prefixDone;
  private int firstFailedIndex = Integer.MAX_VALUE;
  private Throwable firstFailure;
  private boolean firstFailureByTask;

  MapResult(Scheduler scheduler, int n, Executor callbacks, Executor views, ProgressTracker progress) {
    this.scheduler = scheduler;
    this.values = new Object[n];
    this.result = new AsyncResultImpl<>(callbacks, views, this);
    this.progress = progress;
  }

  /** The map failed or was cancelled: the items without an outcome will never have a value. */
  private void countRestAsFailed() {
    if (progress != null && counted < values.length) {
      progress.add(0, values.length - counted);
      counted = values.length;
    }
  }

  /** Completes the result, after the final progress call if there is a listener. */
  private void complete(Runnable completion) {
    if (progress == null) {
      completion.run();
    } else {
      progress.finish(completion);
    }
  }

  /** Called once with every chunk, before any is submitted. */
  @SuppressWarnings("unchecked")
  synchronized void start(List<ChunkTask> chunks) {
    this.chunks = chunks;
    this.remaining = chunks.size();
    this.offsets = new int[chunks.size()];
    this.done = new boolean[chunks.size()];
    for (int i = 1; i < chunks.size(); i++) {
      offsets[i] = offsets[i - 1] + chunks.get(i - 1).size;
    }
    if (remaining == 0) {
      decided = true;
      complete(() -> result.succeed((List<R>) Collections.unmodifiableList(Arrays.asList(values))));
    }
  }

  @Override
  @SuppressWarnings("unchecked")
  public void onChunk(ChunkTask chunk, List<Object> chunkValues, Throwable failure, boolean thrownByTask) {
    boolean complete = false;
    boolean withdraw = false;
    Throwable failWith = null;
    boolean failByTask = false;
    synchronized (this) {
      if (decided || result.isDone() || done[chunk.index]) {
        return;
      }
      done[chunk.index] = true;
      if (progress != null && !(failure instanceof java.util.concurrent.CancellationException)) {
        progress.add(chunkValues.size(), chunk.size - chunkValues.size());
        counted += chunk.size;
      }
      if (failure == null) {
        int at = offsets[chunk.index];
        for (int i = 0; i < chunkValues.size(); i++) {
          values[at + i] = chunkValues.get(i);
        }
        complete = --remaining == 0;
      } else if (chunk.index < firstFailedIndex) {
        withdraw = firstFailedIndex == Integer.MAX_VALUE;
        firstFailedIndex = chunk.index;
        firstFailure = failure;
        firstFailureByTask = thrownByTask;
      }
      while (prefixDone < done.length && done[prefixDone]) {
        prefixDone++;
      }
      if (firstFailure != null && prefixDone > firstFailedIndex) {
        failWith = firstFailure;
        failByTask = firstFailureByTask;
      }
      decided = failWith != null || complete;
      if (failWith != null) {
        countRestAsFailed();
      }
    }
    if (withdraw) {
      for (ChunkTask c : chunks) {
        if (c.index > chunk.index) {
          scheduler.cancel(c, false);
        }
      }
    }
    if (failWith != null) {
      Throwable f = failWith;
      if (failByTask) {
        complete(() -> result.failByTask(f));
      } else {
        complete(() -> result.fail(f));
      }
    } else if (complete) {
      complete(() -> result.succeed((List<R>) Collections.unmodifiableList(Arrays.asList(values))));
    }
  }

  @Override
  public boolean cancel(boolean mayInterruptIfRunning) {
    synchronized (this) {
      if (decided) {
        return false;
      }
      decided = true;
      countRestAsFailed();
    }
    if (!result.markCancelled()) {
      return false;
    }
    if (progress != null) {
      progress.finish(() -> { });
    }
    for (ChunkTask c : chunks) {
      scheduler.cancel(c, mayInterruptIfRunning);
    }
    return true;
  }
}
