package io.procpool.testkit.fake;

import io.procpool.api.AsyncResult;
import io.procpool.api.PoolClosedException;
import io.procpool.api.PoolTerminatedException;
import io.procpool.api.ProcPoolException;
import io.procpool.api.ProcessPool;
import io.procpool.api.RemoteException;
import io.procpool.api.SerializableCallable;
import io.procpool.api.SerializableFunction;
import io.procpool.api.SerializableRunnable;
import io.procpool.api.TaskFailedException;
import io.procpool.api.TaskSerializationException;
import io.procpool.api.TaskTimeoutException;
import io.procpool.api.WorkerStartException;
import io.procpool.api.spi.PoolOptions;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Deque;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingDeque;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;

/**
 * A deliberately simple in-JVM pool (worker threads, Java serialization of every task, argument,
 * result and exception) that follows the contract, to check the contract suite itself.
 */
final class FakePool implements ProcessPool {
  private enum State { OPEN, CLOSED, TERMINATED }

  private final PoolOptions options;
  private final LinkedBlockingDeque<Job> queue = new LinkedBlockingDeque<>();
  private final Set<Worker> workers = ConcurrentHashMap.newKeySet();
  private final ExecutorService callbacks = Executors.newSingleThreadExecutor(r -> daemon(r, "fake-callbacks"));
  private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> daemon(r, "fake-timer"));
  private final byte[] initializer;
  private volatile State state = State.OPEN;

  FakePool(PoolOptions options) {
    this.options = options;
    this.initializer = options.initializer().map(FakePool::encode).orElse(null);
    CompletableFuture<Void> firstReady = new CompletableFuture<>();
    for (int i = 0; i < options.processes(); i++) {
      startWorker(firstReady);
    }
    try {
      firstReady.get();
    } catch (ExecutionException e) {
      terminate();
      throw new WorkerStartException("the initializer failed", e.getCause());
    } catch (InterruptedException e) {
      terminate();
      Thread.currentThread().interrupt();
      throw new WorkerStartException("interrupted");
    }
  }

  private static Thread daemon(Runnable r, String name) {
    Thread t = new Thread(r, name);
    t.setDaemon(true);
    return t;
  }

  private void startWorker(CompletableFuture<Void> ready) {
    Worker w = new Worker(ready);
    workers.add(w);
    w.thread.start();
  }

  // ------------------------------------------------------------ encoding

  static byte[] encode(Object o) {
    try (ByteArrayOutputStream bytes = new ByteArrayOutputStream(); ObjectOutputStream out = new ObjectOutputStream(bytes)) {
      out.writeObject(o);
      out.flush();
      return bytes.toByteArray();
    } catch (IOException | RuntimeException e) {
      throw new TaskSerializationException("cannot encode " + o.getClass().getName() + ": " + e, e);
    }
  }

  static Object decode(byte[] b) {
    try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(b))) {
      return in.readObject();
    } catch (IOException | ClassNotFoundException | RuntimeException e) {
      throw new TaskSerializationException("cannot decode: " + e, e);
    }
  }

  static Throwable rebuild(Throwable t) {
    try {
      return (Throwable) decode(encode(t));
    } catch (TaskSerializationException e) {
      return new RemoteException(t.getClass().getName(), t.getMessage(), t.getStackTrace());
    }
  }

  // ------------------------------------------------------------ jobs and workers

  /** A task (function + argument) on its way through the pool. */
  private final class Job {
    final byte[] payload;
    final CompletableFuture<Object> future = new CompletableFuture<>();
    volatile Worker worker;

    Job(SerializableFunction<?, ?> fn, Object arg) {
      this.payload = encode(new Object[] {fn, arg});
    }
  }

  private final class Worker implements Runnable {
    final Thread thread = daemon(this, "fake-worker");
    final CompletableFuture<Void> ready;
    volatile boolean killed;
    volatile Job current;

    Worker(CompletableFuture<Void> ready) {
      this.ready = ready;
    }

    @Override
    @SuppressWarnings("unchecked")
    public void run() {
      try {
        if (initializer != null) {
          try {
            ((SerializableRunnable) decode(initializer)).run();
          } catch (Throwable t) {
            ready.completeExceptionally(rebuild(t));
            return;
          }
        }
        ready.complete(null);
        int done = 0;
        while (!killed && (options.maxTasksPerChild() == 0 || done < options.maxTasksPerChild())) {
          Job job = queue.poll(20, TimeUnit.MILLISECONDS);
          if (job == null) {
            if (state != State.OPEN) {
              return;
            }
            continue;
          }
          if (job.future.isDone()) {
            continue; // cancelled while queued
          }
          job.worker = this;
          current = job;
          ScheduledFuture<?> timeout = options.taskTimeout().map(d -> timer.schedule(() -> {
            if (job.future.completeExceptionally(new TaskTimeoutException("timed out after " + d, d, -1))) {
              kill();
            }
          }, d.toMillis(), TimeUnit.MILLISECONDS)).orElse(null);
          try {
            Object[] decoded = (Object[]) decode(job.payload);
            Object result = ((SerializableFunction<Object, Object>) decoded[0]).apply(decoded[1]);
            Object copy;
            try {
              copy = decode(encode(result));
            } catch (TaskSerializationException e) {
              job.future.completeExceptionally(e);
              continue;
            }
            job.future.complete(copy);
          } catch (Throwable t) {
            if (killed) {
              return;
            }
            job.future.completeExceptionally(new TaskThrew(rebuild(t)));
          } finally {
            current = null;
            done++;
            if (timeout != null) {
              timeout.cancel(false);
            }
          }
        }
      } catch (InterruptedException e) {
        // killed
      } finally {
        workers.remove(this);
        if (!killed && (state == State.OPEN || (state == State.CLOSED && !queue.isEmpty()))) {
          startWorker(new CompletableFuture<>());
        }
      }
    }

    /** Stops this worker now; the pool replaces it while open. */
    void kill() {
      killed = true;
      workers.remove(this);
      thread.interrupt();
      if (state == State.OPEN) {
        startWorker(new CompletableFuture<>());
      }
    }
  }

  /** Marks a failure thrown by the task itself (as opposed to a pool-level failure). */
  private static final class TaskThrew extends RuntimeException {
    TaskThrew(Throwable cause) {
      super(cause);
    }
  }

  private static Throwable unwrap(Throwable t) {
    while ((t instanceof CompletionException || t instanceof TaskThrew) && t.getCause() != null) {
      t = t.getCause();
    }
    return t;
  }

  // ------------------------------------------------------------ AsyncResult

  private final class Result<R> implements AsyncResult<R> {
    final CompletableFuture<R> future;
    final List<Job> jobs;

    Result(CompletableFuture<R> future, List<Job> jobs, Consumer<? super R> callback, Consumer<? super Throwable> errorCallback) {
      this.future = future;
      this.jobs = jobs;
      future.whenCompleteAsync((v, e) -> {
        try {
          if (e == null) {
            if (callback != null) {
              callback.accept(v);
            }
          } else if (errorCallback != null && !(e instanceof CancellationException)) {
            errorCallback.accept(unwrap(e));
          }
        } catch (RuntimeException ex) {
          System.err.println("fake pool: a callback threw " + ex);
        }
      }, callbacks);
    }

    @Override
    public R get() throws InterruptedException, ExecutionException {
      try {
        return future.get();
      } catch (ExecutionException e) {
        throw new ExecutionException(unwrap(e.getCause()));
      }
    }

    @Override
    public R get(long timeout, TimeUnit unit) throws InterruptedException, ExecutionException, TimeoutException {
      try {
        return future.get(timeout, unit);
      } catch (ExecutionException e) {
        throw new ExecutionException(unwrap(e.getCause()));
      }
    }

    @Override
    public boolean waitFor(Duration timeout) throws InterruptedException {
      try {
        future.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
      } catch (ExecutionException | CancellationException e) {
        return true;
      } catch (TimeoutException e) {
        return false;
      }
      return true;
    }

    @Override
    public boolean ready() {
      return future.isDone();
    }

    @Override
    public boolean successful() {
      if (!future.isDone()) {
        throw new IllegalStateException("not ready");
      }
      return !future.isCompletedExceptionally();
    }

    @Override
    public boolean cancel(boolean mayInterruptIfRunning) {
      if (future.isDone() || !future.cancel(false)) {
        return false;
      }
      for (Job job : jobs) {
        job.future.cancel(false);
        queue.remove(job);
        Worker w = job.worker;
        if (mayInterruptIfRunning && w != null && w.current == job) {
          w.kill();
        }
      }
      return true;
    }

    @Override
    public boolean isCancelled() {
      return future.isCancelled();
    }

    @Override
    public boolean isDone() {
      return future.isDone();
    }

    @Override
    public CompletableFuture<R> toCompletableFuture() {
      CompletableFuture<R> view = new CompletableFuture<>();
      future.whenCompleteAsync((v, e) -> {
        if (e == null) {
          view.complete(v);
        } else {
          view.completeExceptionally(unwrap(e));
        }
      }, callbacks);
      return view;
    }
  }

  private Job submit(SerializableFunction<?, ?> fn, Object arg) {
    if (state != State.OPEN) {
      throw new PoolClosedException("pool is " + state);
    }
    Job job = new Job(fn, arg);
    queue.add(job);
    return job;
  }

  @SuppressWarnings("unchecked")
  private <R> Result<R> single(SerializableFunction<?, ?> fn, Object arg, Consumer<? super R> cb, Consumer<? super Throwable> ecb) {
    Job job = submit(fn, arg);
    return new Result<>((CompletableFuture<R>) (CompletableFuture<?>) job.future.thenApply(x -> x), List.of(job), cb, ecb);
  }

  private static <R> R await(AsyncResult<R> result) {
    try {
      return result.get();
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      if (cause instanceof ProcPoolException && !(cause instanceof RemoteException)) {
        throw (ProcPoolException) cause;
      }
      throw new TaskFailedException("task failed: " + cause, cause);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      result.cancel(true);
      throw new ProcPoolException("interrupted");
    }
  }

  // ------------------------------------------------------------ apply

  @Override
  public <R> R apply(SerializableCallable<R> task) {
    return await(applyAsync(task));
  }

  @Override
  public <T, R> R apply(SerializableFunction<T, R> fn, T arg) {
    return await(applyAsync(fn, arg));
  }

  @Override
  public void apply(SerializableRunnable task) {
    await(applyAsync(task));
  }

  @Override
  public <R> AsyncResult<R> applyAsync(SerializableCallable<R> task) {
    return applyAsync(task, null, null);
  }

  @Override
  public <R> AsyncResult<R> applyAsync(SerializableCallable<R> task, Consumer<? super R> cb, Consumer<? super Throwable> ecb) {
    return single((SerializableFunction<Object, R>) ignored -> task.call(), null, cb, ecb);
  }

  @Override
  public <T, R> AsyncResult<R> applyAsync(SerializableFunction<T, R> fn, T arg) {
    return applyAsync(fn, arg, null, null);
  }

  @Override
  public <T, R> AsyncResult<R> applyAsync(SerializableFunction<T, R> fn, T arg, Consumer<? super R> cb, Consumer<? super Throwable> ecb) {
    return single(fn, arg, cb, ecb);
  }

  @Override
  public AsyncResult<Void> applyAsync(SerializableRunnable task) {
    return applyAsync(task, null, null);
  }

  @Override
  public AsyncResult<Void> applyAsync(SerializableRunnable task, Consumer<? super Void> cb, Consumer<? super Throwable> ecb) {
    return single((SerializableFunction<Object, Void>) ignored -> {
      task.run();
      return null;
    }, null, cb, ecb);
  }

  // ------------------------------------------------------------ map

  private static <T> List<List<T>> chunks(Iterable<? extends T> items, int chunksize) {
    List<List<T>> chunks = new ArrayList<>();
    List<T> chunk = new ArrayList<>();
    for (T item : items) {
      chunk.add(item);
      if (chunk.size() == chunksize) {
        chunks.add(chunk);
        chunk = new ArrayList<>();
      }
    }
    if (!chunk.isEmpty()) {
      chunks.add(chunk);
    }
    return chunks;
  }

  private static <T, R> SerializableFunction<ArrayList<T>, ArrayList<R>> overChunk(SerializableFunction<T, R> fn) {
    return chunk -> {
      ArrayList<R> out = new ArrayList<>();
      for (T t : chunk) {
        out.add(fn.apply(t));
      }
      return out;
    };
  }

  @Override
  public <T, R> List<R> map(SerializableFunction<T, R> fn, Iterable<? extends T> items) {
    return await(mapAsync(fn, items));
  }

  @Override
  public <T, R> List<R> map(SerializableFunction<T, R> fn, Iterable<? extends T> items, int chunksize) {
    return await(mapAsync(fn, items, chunksize));
  }

  @Override
  public <T, R> AsyncResult<List<R>> mapAsync(SerializableFunction<T, R> fn, Iterable<? extends T> items) {
    int n = 0;
    for (Object ignored : items) {
      n++;
    }
    int chunksize = Math.max(1, (n + 4 * processes() - 1) / (4 * processes()));
    return mapAsync(fn, items, chunksize);
  }

  @Override
  public <T, R> AsyncResult<List<R>> mapAsync(SerializableFunction<T, R> fn, Iterable<? extends T> items, int chunksize) {
    return mapAsync(fn, items, chunksize, null, null);
  }

  @Override
  @SuppressWarnings("unchecked")
  public <T, R> AsyncResult<List<R>> mapAsync(SerializableFunction<T, R> fn, Iterable<? extends T> items, int chunksize,
      Consumer<? super List<R>> cb, Consumer<? super Throwable> ecb) {
    if (state != State.OPEN) {
      throw new PoolClosedException("pool is " + state);
    }
    SerializableFunction<ArrayList<T>, ArrayList<R>> chunkFn = overChunk(fn);
    encode(chunkFn);
    List<Job> jobs = new ArrayList<>();
    CompletableFuture<List<R>> all = CompletableFuture.completedFuture(new ArrayList<>());
    for (List<T> chunk : FakePool.<T>chunks(items, chunksize)) {
      Job job = submit(chunkFn, new ArrayList<>(chunk));
      jobs.add(job);
      all = all.thenCombine(job.future, (acc, part) -> {
        List<R> next = new ArrayList<>(acc);
        next.addAll((List<R>) part);
        return next;
      });
    }
    return new Result<>(all, jobs, cb, ecb);
  }

  // ------------------------------------------------------------ imap

  @Override
  public <T, R> Iterator<R> imap(SerializableFunction<T, R> fn, Iterable<? extends T> items) {
    return imap(fn, items, 1);
  }

  @Override
  public <T, R> Iterator<R> imap(SerializableFunction<T, R> fn, Iterable<? extends T> items, int chunksize) {
    return new LazyIterator<>(fn, items, chunksize, true);
  }

  @Override
  public <T, R> Iterator<R> imapUnordered(SerializableFunction<T, R> fn, Iterable<? extends T> items) {
    return imapUnordered(fn, items, 1);
  }

  @Override
  public <T, R> Iterator<R> imapUnordered(SerializableFunction<T, R> fn, Iterable<? extends T> items, int chunksize) {
    return new LazyIterator<>(fn, items, chunksize, false);
  }

  private final class LazyIterator<T, R> implements Iterator<R> {
    final SerializableFunction<ArrayList<T>, ArrayList<R>> chunkFn;
    final Iterator<? extends T> input;
    final int chunksize;
    final boolean ordered;
    final List<Result<List<R>>> pending = new ArrayList<>();
    final Deque<R> buffer = new ArrayDeque<>();

    LazyIterator(SerializableFunction<T, R> fn, Iterable<? extends T> items, int chunksize, boolean ordered) {
      this.chunkFn = overChunk(fn);
      this.input = items.iterator();
      this.chunksize = chunksize;
      this.ordered = ordered;
    }

    @SuppressWarnings("unchecked")
    private void fill() {
      while (pending.size() < 2 * processes() && input.hasNext()) {
        ArrayList<T> chunk = new ArrayList<>();
        while (chunk.size() < chunksize && input.hasNext()) {
          chunk.add(input.next());
        }
        pending.add(single(chunkFn, chunk, null, null));
      }
    }

    @Override
    public boolean hasNext() {
      fill();
      return !buffer.isEmpty() || !pending.isEmpty();
    }

    @Override
    public R next() {
      while (buffer.isEmpty()) {
        if (!hasNext()) {
          throw new NoSuchElementException();
        }
        Result<List<R>> next = ordered ? pending.get(0) : firstDone();
        pending.remove(next);
        buffer.addAll(await(next));
      }
      return buffer.removeFirst();
    }

    private Result<List<R>> firstDone() {
      CompletableFuture.anyOf(pending.stream().map(r -> r.future).toArray(CompletableFuture[]::new))
          .exceptionally(e -> null).join();
      return pending.stream().filter(Result::ready).findFirst().orElseThrow();
    }
  }

  // ------------------------------------------------------------ lifecycle

  @Override
  public void close() {
    if (state == State.OPEN) {
      state = State.CLOSED;
    }
    join();
    callbacks.shutdown();
    timer.shutdown();
  }

  @Override
  public void terminate() {
    state = State.TERMINATED;
    for (Job job; (job = queue.poll()) != null; ) {
      job.future.completeExceptionally(new PoolTerminatedException("terminated"));
    }
    for (Worker w : new ArrayList<>(workers)) {
      Job job = w.current;
      if (job != null) {
        job.future.completeExceptionally(new PoolTerminatedException("terminated"));
      }
      w.kill();
    }
    join();
    callbacks.shutdown();
    timer.shutdown();
  }

  @Override
  public void join() {
    if (state == State.OPEN) {
      throw new IllegalStateException("join() before close() or terminate()");
    }
    while (!workers.isEmpty()) {
      for (Worker w : new ArrayList<>(workers)) {
        try {
          w.thread.join(100);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new ProcPoolException("interrupted");
        }
      }
    }
  }

  @Override
  public int processes() {
    return options.processes();
  }

  @Override
  public String transport() {
    return options.transport();
  }

  @Override
  public List<Long> workerPids() {
    return Collections.nCopies(workers.size(), ProcessHandle.current().pid());
  }
}
