package io.procpool.core.internal;

import io.procpool.api.SerializableFunction;
import io.procpool.api.TaskFailedException;
import io.procpool.api.TaskSerializationException;
import java.util.ArrayDeque;
import java.util.Collection;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;

/**
 * The iterator of {@code imap}/{@code imapUnordered}. It pulls input lazily, from the first
 * {@code hasNext()}/{@code next()} on: at most {@code window} chunks are submitted and not yet
 * consumed, so an infinite input works and memory stays bounded. Results come in input order
 * ({@code imap}) or completion order ({@code imapUnordered}). A failed item throws from
 * {@code next()} at its position; iteration may go on after it.
 *
 * <p>A submitted imap is submitted work: when the pool is closed, an imap over a {@link Collection}
 * submits the rest of its input at once (the results wait for the consumer), so that the Python
 * idiom {@code imap; close(); iterate} yields every result. Input that is not a collection may be
 * infinite and is never drained by {@code close()}: iterating past what was submitted before the
 * close throws {@link io.procpool.api.PoolClosedException}.
 *
 * <p>One consumer thread; {@code close()} may submit concurrently.
 */
final class ImapIterator<R> implements Iterator<R> {
  private final Scheduler scheduler;
  private final TaskEncoder encoder;
  private final FunctionTable.Entry function;
  private final Iterator<?> input;
  private final boolean finite;
  private final long collectionSize;
  private final int chunksize;
  private final boolean ordered;
  private final int window;
  /** Ordered mode: outcomes in submission order. Guarded by this. */
  private final ArrayDeque<CompletableFuture<Outcome>> slots = new ArrayDeque<>();
  /** Unordered mode: outcomes in completion order. */
  private final LinkedBlockingQueue<Outcome> completed = new LinkedBlockingQueue<>();
  /** Chunks submitted (or failed at encoding) and not yet taken by the consumer. Guarded by this. */
  private int outstanding;
  /** Written under this, read by {@link #poolEnded} without it. */
  private volatile long submittedItems;
  private boolean inputDone;
  private RuntimeException submitFailure;
  private Outcome current;
  private int position;
  /** The imap's progress listener, or null. */
  private final ProgressTracker progress;
  private final Callbacks callbacks;
  /** Items with an outcome (progress). */
  private final java.util.concurrent.atomic.AtomicLong outcomes = new java.util.concurrent.atomic.AtomicLong();
  /** The number of input items once the input has ended, else -1 (progress). */
  private volatile long inputItems = -1;
  private final java.util.concurrent.atomic.AtomicBoolean finishing = new java.util.concurrent.atomic.AtomicBoolean();
  /** No more input will be submitted (progress). */
  private final java.util.concurrent.atomic.AtomicBoolean ended = new java.util.concurrent.atomic.AtomicBoolean();
  /** Completes after the final progress call. */
  private final CompletableFuture<Void> progressDone = new CompletableFuture<>();

  /**
   * The result of one chunk: the values of the items before its failure, if any; then one failure per
   * item from the failed one to the end of the chunk (those after it never ran), so that every input
   * item has exactly one outcome at its position.
   */
  private static final class Outcome {
    final List<Object> values;
    final Throwable failure;
    final boolean thrownByTask;
    /** Items from the failed one on whose failure {@code next()} has not thrown yet. */
    int failuresLeft;
    final int failedItems;

    Outcome(List<Object> values, Throwable failure, boolean thrownByTask, int chunkSize) {
      this.values = values;
      this.failure = failure;
      this.thrownByTask = thrownByTask;
      this.failedItems = failure == null ? 0 : Math.max(1, chunkSize - values.size());
      this.failuresLeft = failedItems;
    }
  }

  ImapIterator(Scheduler scheduler, TaskEncoder encoder, SerializableFunction<?, ?> fn, Iterable<?> items,
      int chunksize, boolean ordered, int window, ProgressTracker progress, Callbacks callbacks) {
    this.progress = progress;
    this.callbacks = callbacks;
    this.scheduler = scheduler;
    this.encoder = encoder;
    this.function = encoder.function(fn);
    this.input = items.iterator();
    this.finite = items instanceof Collection;
    this.collectionSize = finite ? ((Collection<?>) items).size() : -1;
    this.chunksize = chunksize;
    this.ordered = ordered;
    this.window = window;
    scheduler.openImap(this, finite);
  }

  /** Called by close(): submits the rest of a collection's input. */
  synchronized void submitRestOnClose() {
    fill(Integer.MAX_VALUE);
  }

  private synchronized void fill(int limit) {
    while (!inputDone && outstanding < limit) {
      if (!input.hasNext()) {
        inputDone = true;
        scheduler.imapDone(this);
        inputEnded(true);
        return;
      }
      List<Object> items = new java.util.ArrayList<>(chunksize);
      while (items.size() < chunksize && input.hasNext()) {
        items.add(input.next());
      }
      CompletableFuture<Outcome> slot = new CompletableFuture<>();
      ChunkTask task;
      try {
        task = new ChunkTask(encoder.chunk(function, items.iterator(), items.size(), submittedItems),
            new SlotSink(slot), 0, items.size());
      } catch (TaskSerializationException e) {
        deliver(slot, new Outcome(List.of(), e, false, items.size()));
        submittedItems += items.size();
        counted(0, items.size());
        continue;
      }
      try {
        scheduler.submitAll(List.of(task), true);
      } catch (RuntimeException e) {
        inputDone = true;
        scheduler.imapDone(this);
        if (scheduler.terminated()) {
          submitFailure = new io.procpool.api.PoolTerminatedException("the pool was terminated; the rest of this"
              + " imap's input, after the " + submittedItems + " items submitted before, never ran");
        } else if (e instanceof io.procpool.api.PoolClosedException && !finite) {
          submitFailure = new io.procpool.api.PoolClosedException(e.getMessage() + "; this imap's input is not a"
              + " Collection, so close() finished only the " + submittedItems + " items submitted before it");
        } else {
          submitFailure = e;
        }
        inputEnded(false);
        return;
      }
      submittedItems += items.size();
      if (ordered) {
        slots.addLast(slot);
      }
      outstanding++;
    }
  }

  private void deliver(CompletableFuture<Outcome> slot, Outcome o) {
    if (ordered) {
      slots.addLast(slot);
    }
    outstanding++;
    slot.complete(o);
    if (!ordered) {
      completed.add(o);
    }
  }

  /** Routes a chunk's outcome to its slot. */
  private final class SlotSink implements ChunkTask.Sink {
    private final CompletableFuture<Outcome> slot;

    SlotSink(CompletableFuture<Outcome> slot) {
      this.slot = slot;
    }

    @Override
    public void onChunk(ChunkTask chunk, List<Object> values, Throwable failure, boolean thrownByTask) {
      Outcome o = new Outcome(values, failure, thrownByTask, chunk.size);
      if (slot.complete(o)) {
        if (!ordered) {
          completed.add(o);
        }
        counted(values.size(), chunk.size - values.size());
      }
    }
  }

  /** Items of a chunk have an outcome: tell the progress listener; make its final call after the last. */
  private void counted(long ok, long bad) {
    if (progress == null) {
      return;
    }
    progress.add(ok, bad);
    long n = outcomes.addAndGet(ok + bad);
    long total = inputItems;
    if (total >= 0 && n >= total) {
      finishProgress();
    }
  }

  /**
   * No more input will be submitted: it ran out ({@code exhausted}; then its size is known), or the
   * pool stopped taking it (a collection's items that never ran count as failed).
   */
  private void inputEnded(boolean exhausted) {
    if (progress == null || !ended.compareAndSet(false, true)) {
      return;
    }
    if (exhausted) {
      progress.total(submittedItems);
    } else if (finite) {
      progress.add(0, Math.max(0, collectionSize - submittedItems));
    }
    inputItems = submittedItems;
    if (outcomes.get() >= submittedItems) {
      finishProgress();
    }
  }

  /**
   * The pool has ended (after close() or terminate(), every submitted item has its outcome): the
   * listener gets its final call now, also when the input had not ended.
   */
  void poolEnded() {
    if (progress == null) {
      return;
    }
    inputEnded(false);
    finishProgress();
  }

  private void finishProgress() {
    if (finishing.compareAndSet(false, true)) {
      progress.finish(() -> progressDone.complete(null));
    }
  }

  @Override
  public boolean hasNext() {
    while (true) {
      if (current != null && (position < current.values.size() || current.failuresLeft > 0)) {
        return true;
      }
      current = null;
      CompletableFuture<Outcome> slot = null;
      synchronized (this) {
        fill(window);
        if (outstanding == 0) {
          if (submitFailure != null) {
            RuntimeException e = submitFailure;
            submitFailure = null;
            throw e;
          }
          awaitFinalProgress();
          return false;
        }
        outstanding--;
        if (ordered) {
          slot = slots.removeFirst();
        }
      }
      current = take(slot);
      position = 0;
    }
  }

  /**
   * The end of the results: the progress listener's final call comes first (unless this thread is
   * the one that would make it).
   */
  private void awaitFinalProgress() {
    if (progress == null || progressDone.isDone() || callbacks.onCallbackThread()) {
      return;
    }
    try {
      progressDone.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new io.procpool.api.ProcPoolException("interrupted while waiting for the final progress call", e);
    } catch (ExecutionException e) {
      throw new IllegalStateException(e);
    }
  }

  private Outcome take(CompletableFuture<Outcome> slot) {
    try {
      if (slot != null) {
        return slot.get();
      }
      return completed.take();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new io.procpool.api.ProcPoolException("interrupted while waiting for imap results", e);
    } catch (ExecutionException e) {
      throw new IllegalStateException(e);
    }
  }

  @Override
  @SuppressWarnings("unchecked")
  public R next() {
    if (!hasNext()) {
      throw new NoSuchElementException();
    }
    if (position < current.values.size()) {
      return (R) current.values.get(position++);
    }
    Throwable f = current.failure;
    boolean first = current.failuresLeft-- == current.failedItems;
    if (current.thrownByTask) {
      throw new TaskFailedException(first ? "the task failed for an item: " + f
          : "the item was not run: an earlier item of its chunk failed: " + f, f);
    }
    throw DefaultProcessPool.rethrow(f, false);
  }
}
