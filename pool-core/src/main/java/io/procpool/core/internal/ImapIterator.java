package io.procpool.core.internal;

import io.procpool.api.SerializableFunction;
import io.procpool.api.TaskFailedException;
import io.procpool.api.TaskSerializationException;
import java.util.ArrayDeque;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;

/**
 * The iterator of {@code imap}/{@code imapUnordered}. It pulls input lazily: at most {@code window}
 * chunks are submitted and not yet consumed, so an infinite input works and memory stays bounded.
 * Results come in input order ({@code imap}) or completion order ({@code imapUnordered}). A failed
 * item throws from {@code next()} at its position; iteration may go on after it.
 *
 * <p>Not thread-safe: one consumer.
 */
final class ImapIterator<R> implements Iterator<R> {
  private final PoolImpl pool;
  private final FunctionTable.Entry function;
  private final Iterator<?> input;
  private final int chunksize;
  private final boolean ordered;
  private final int window;
  /** Ordered mode: outcomes in submission order. */
  private final ArrayDeque<CompletableFuture<Outcome>> slots = new ArrayDeque<>();
  /** Unordered mode: outcomes in completion order. */
  private final LinkedBlockingQueue<Outcome> completed = new LinkedBlockingQueue<>();
  private int outstanding;
  private int submittedItems;
  private boolean inputDone;
  private Outcome current;
  private int position;

  /** The result of one chunk. */
  private static final class Outcome {
    final List<Object> values;
    Throwable failure;
    final boolean thrownByTask;

    Outcome(List<Object> values, Throwable failure, boolean thrownByTask) {
      this.values = values;
      this.failure = failure;
      this.thrownByTask = thrownByTask;
    }
  }

  ImapIterator(PoolImpl pool, SerializableFunction<?, ?> fn, Iterator<?> input, int chunksize, boolean ordered,
      int window) {
    this.pool = pool;
    this.function = pool.functionEntry(fn);
    this.input = input;
    this.chunksize = chunksize;
    this.ordered = ordered;
    this.window = window;
    fill();
  }

  private void fill() {
    while (!inputDone && outstanding < window) {
      if (!input.hasNext()) {
        inputDone = true;
        return;
      }
      List<Object> items = new java.util.ArrayList<>(chunksize);
      while (items.size() < chunksize && input.hasNext()) {
        items.add(input.next());
      }
      CompletableFuture<Outcome> slot = new CompletableFuture<>();
      ChunkTask task;
      try {
        task = pool.chunk(function, items.iterator(), items.size(), submittedItems, new SlotSink(slot), 0);
      } catch (TaskSerializationException e) {
        deliver(slot, new Outcome(List.of(), e, false));
        submittedItems += items.size();
        continue;
      }
      submittedItems += items.size();
      if (ordered) {
        slots.addLast(slot);
      }
      outstanding++;
      try {
        pool.submitChunk(task);
      } catch (RuntimeException e) {
        outstanding--;
        if (ordered) {
          slots.removeLast();
        }
        inputDone = true;
        throw e;
      }
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
      Outcome o = new Outcome(values, failure, thrownByTask);
      if (slot.complete(o) && !ordered) {
        completed.add(o);
      }
    }
  }

  @Override
  public boolean hasNext() {
    while (true) {
      if (current != null && (position < current.values.size() || current.failure != null)) {
        return true;
      }
      current = null;
      fill();
      if (outstanding == 0) {
        return false;
      }
      current = take();
      position = 0;
      outstanding--;
    }
  }

  private Outcome take() {
    try {
      if (ordered) {
        return slots.removeFirst().get();
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
    current.failure = null;
    if (current.thrownByTask) {
      throw new TaskFailedException("the task failed for an item: " + f, f);
    }
    throw PoolImpl.rethrow(f, false);
  }
}
