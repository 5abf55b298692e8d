package io.procpool.api;

import io.procpool.api.spi.PoolFactory;
import io.procpool.api.spi.PoolOptions;
import java.time.Duration;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.function.Consumer;

/**
 * A pool of worker processes (separate JVMs) that run tasks for this JVM: Java's counterpart of
 * Python's {@code multiprocessing.Pool}.
 *
 * <pre>{@code
 * try (ProcessPool pool = ProcessPool.create(3)) {
 *   AsyncResult<Integer> r = pool.applyAsync(x -> x + 100, 1);
 *   List<Integer> squares = pool.map(x -> x * x, List.of(1, 2, 3));
 *   System.out.println(r.get() + " " + squares);
 * }
 * }</pre>
 *
 * <p>Tasks are {@link SerializableCallable}, {@link SerializableFunction} or
 * {@link SerializableRunnable} lambdas; they, their arguments and their results travel through the
 * pool's codec (Java serialization by default). Workers run with this JVM's classpath. A task and
 * its arguments (a {@code byte[]} included) are encoded before the submitting call returns: the caller
 * may change or reuse them at once, and the worker sees them as they were at submit.
 *
 * <p>At most {@code processes} tasks run at once, one per worker. A worker that dies fails exactly the
 * tasks it held with {@link WorkerCrashedException} and is replaced; nothing waits forever.
 *
 * <p>What a task prints on {@code System.out}/{@code System.err} appears on this JVM's, in order,
 * before the task's result is delivered. What a worker process logs through
 * {@code java.util.logging} or {@code System.Logger} is re-emitted here as a log record through
 * {@code System.getLogger} under the same logger name, with its level (SEVERE → ERROR, WARNING, INFO,
 * CONFIG and FINE → DEBUG, FINER and FINEST → TRACE) and exception, the message prefixed with
 * {@code "[worker PID THREAD] "}; the workers' logger levels (INFO by default) decide what is sent.
 *
 * <p>Implementations are thread-safe: any thread may submit tasks.
 */
public interface ProcessPool extends AutoCloseable {

  /**
   * Starts a pool of {@code processes} workers with the default transport ({@code "pipes"}): Python's
   * {@code Pool(processes)}.
   *
   * @throws WorkerStartException if the workers cannot be started
   */
  static ProcessPool create(int processes) {
    return builder().processes(processes).build();
  }

  /** Starts a pool with one worker per available processor. */
  static ProcessPool create() {
    return builder().build();
  }

  /** A builder for a pool with non-default options. */
  static Builder builder() {
    return new Builder();
  }

  // ---------------------------------------------------------------- apply

  /**
   * Runs {@code task} in a worker and waits for its result. Python's {@code apply(func)}.
   *
   * @throws TaskFailedException if the task threw (the cause is its exception)
   * @throws WorkerCrashedException if the worker died while running it
   * @throws TaskTimeoutException if it ran past the pool's {@code taskTimeout}
   * @throws TaskSerializationException if the task or its result cannot be encoded
   * @throws PoolClosedException if the pool is closed
   * @throws ProcPoolException if the calling thread is interrupted while waiting: the task is
   *     cancelled as by {@code cancel(false)} (if no worker has started it, it never runs; if one has,
   *     it runs to its end and its result is discarded), and the thread's interrupt status is set
   */
  <R> R apply(SerializableCallable<R> task);

  /** Runs {@code fn(arg)} in a worker and waits for its result. Python's {@code apply(func, (arg,))}. */
  <T, R> R apply(SerializableFunction<T, R> fn, T arg);

  /** Runs {@code task} in a worker and waits until it has finished. */
  void apply(SerializableRunnable task);

  // ---------------------------------------------------------------- applyAsync

  /**
   * Submits {@code task} and returns at once. Python's {@code apply_async(func)}.
   *
   * @throws TaskSerializationException in this thread if the task cannot be encoded
   * @throws PoolClosedException if the pool is closed
   */
  <R> AsyncResult<R> applyAsync(SerializableCallable<R> task);

  /**
   * Submits {@code task}; {@code callback} receives its value, or {@code errorCallback} its failure,
   * exactly once, on the pool's callback thread (or its {@link Builder#callbackExecutor callbackExecutor}),
   * one at a time, in order of completion. A callback that throws is
   * logged and does not affect the pool. Python's {@code apply_async(func, callback=…, error_callback=…)}.
   *
   * @param callback receives the result; may be {@code null}
   * @param errorCallback receives the failure; may be {@code null}
   */
  <R> AsyncResult<R> applyAsync(
      SerializableCallable<R> task, Consumer<? super R> callback, Consumer<? super Throwable> errorCallback);

  /** Submits {@code fn(arg)} and returns at once. Python's {@code apply_async(func, (arg,))}. */
  <T, R> AsyncResult<R> applyAsync(SerializableFunction<T, R> fn, T arg);

  /** Submits {@code fn(arg)} with callbacks; see {@link #applyAsync(SerializableCallable, Consumer, Consumer)}. */
  <T, R> AsyncResult<R> applyAsync(
      SerializableFunction<T, R> fn, T arg, Consumer<? super R> callback, Consumer<? super Throwable> errorCallback);

  /**
   * Submits a task without result and returns at once. (There is deliberately no overload with
   * callbacks: with one, {@code applyAsync(() -> f(), cb, ecb)} would be ambiguous for every
   * value-returning {@code f}. Use {@code toCompletableFuture()} to react to a void task.)
   */
  AsyncResult<Void> applyAsync(SerializableRunnable task);


  // ---------------------------------------------------------------- map

  /**
   * Applies {@code fn} to every item in the workers and returns the results in input order. Items are
   * sent in chunks of Python's default size, {@code ceil(n / (4 * processes))}. Python's
   * {@code map(func, iterable)}.
   *
   * @throws TaskFailedException for the first item, in input order, whose task threw (whatever the
   *     order in which items fail); the chunks after it are withdrawn
   */
  <T, R> List<R> map(SerializableFunction<T, R> fn, Iterable<? extends T> items);

  /** Like {@link #map(SerializableFunction, Iterable)} with an explicit chunk size ({@code >= 1}). */
  <T, R> List<R> map(SerializableFunction<T, R> fn, Iterable<? extends T> items, int chunksize);

  /**
   * Like {@link #map(SerializableFunction, Iterable)} with options: a chunk size, a
   * {@link ProgressListener}.
   *
   * <pre>{@code
   * List<Result> results = pool.map(Sim::run, inputs,
   *     MapOptions.defaults().onProgress(p -> System.err.printf("%d/%d%n", p.done(), p.total())));
   * }</pre>
   */
  <T, R> List<R> map(SerializableFunction<T, R> fn, Iterable<? extends T> items, MapOptions options);

  /** The asynchronous form of {@link #map(SerializableFunction, Iterable)}. Python's {@code map_async}. */
  <T, R> AsyncResult<List<R>> mapAsync(SerializableFunction<T, R> fn, Iterable<? extends T> items);

  /** {@code mapAsync} with an explicit chunk size. */
  <T, R> AsyncResult<List<R>> mapAsync(SerializableFunction<T, R> fn, Iterable<? extends T> items, int chunksize);

  /** {@code mapAsync} with options: a chunk size, a {@link ProgressListener}. */
  <T, R> AsyncResult<List<R>> mapAsync(SerializableFunction<T, R> fn, Iterable<? extends T> items, MapOptions options);

  /** {@code mapAsync} with callbacks for the whole list or the first failure. */
  <T, R> AsyncResult<List<R>> mapAsync(
      SerializableFunction<T, R> fn,
      Iterable<? extends T> items,
      int chunksize,
      Consumer<? super List<R>> callback,
      Consumer<? super Throwable> errorCallback);

  /**
   * Lazily applies {@code fn} to the items, yielding results in input order. Nothing is pulled from
   * the input before the first {@code hasNext()}/{@code next()}; then input is pulled only as workers
   * free up (a bounded window ahead of the consumer: at most 128 chunks per worker, at least 16,
   * submitted and not yet consumed, so with large results mind the memory that many chunks' results
   * take, or use a smaller chunk size), so an infinite iterator works. A failed item throws
   * {@link TaskFailedException} from {@code next()} at its position. Python's {@code imap}.
   *
   * <p>An imap is submitted work: if the pool is closed while an imap over a {@link java.util.Collection}
   * has input left, {@link #close()} submits the rest and waits for it, so {@code imap; close();
   * iterate} yields every result, as in Python. Input that is not a collection may be infinite, so
   * {@code close()} never drains it: it finishes what was submitted, and iterating past that throws
   * {@link PoolClosedException}.
   *
   * @throws PoolClosedException if the pool is closed (even for an empty input)
   */
  <T, R> Iterator<R> imap(SerializableFunction<T, R> fn, Iterable<? extends T> items);

  /** {@code imap} with an explicit chunk size (default 1, as in Python). */
  <T, R> Iterator<R> imap(SerializableFunction<T, R> fn, Iterable<? extends T> items, int chunksize);

  /**
   * {@code imap} with options: a chunk size (default 1), a {@link ProgressListener} (its total is
   * {@code -1} until the input ends, unless the input is a {@link java.util.Collection}). Progress
   * counts results as they arrive from the workers, whether or not the iterator has handed them out
   * yet.
   */
  <T, R> Iterator<R> imap(SerializableFunction<T, R> fn, Iterable<? extends T> items, MapOptions options);

  /** Like {@link #imap} but yields results as they complete. Python's {@code imap_unordered}. */
  <T, R> Iterator<R> imapUnordered(SerializableFunction<T, R> fn, Iterable<? extends T> items);

  /** {@code imapUnordered} with an explicit chunk size. */
  <T, R> Iterator<R> imapUnordered(SerializableFunction<T, R> fn, Iterable<? extends T> items, int chunksize);

  /** {@code imapUnordered} with options; see {@link #imap(SerializableFunction, Iterable, MapOptions)}. */
  <T, R> Iterator<R> imapUnordered(SerializableFunction<T, R> fn, Iterable<? extends T> items, MapOptions options);

  // ---------------------------------------------------------------- lifecycle

  /**
   * Stops accepting tasks ({@link PoolClosedException} after), lets every submitted task finish
   * (including the rest of an open {@link #imap} over a collection), then lets the workers exit, and
   * returns when they have and when every result is complete and every callback has run, even if a
   * worker crashed meanwhile. Idempotent. Python's {@code close()} followed by {@code join()}, as
   * {@code ExecutorService.close()} does (JDK 19+).
   */
  @Override
  void close();

  /**
   * Kills the workers now. Every unfinished result completes exceptionally with
   * {@link PoolTerminatedException}. Idempotent; returns when the workers are gone and every callback
   * (an error callback with that exception included) has run, so a callback that blocks delays the
   * return; one that never returns keeps it from returning.
   */
  void terminate();

  /**
   * Waits until every worker has exited.
   *
   * @throws IllegalStateException unless {@link #close()} or {@link #terminate()} was called first
   */
  void join();

  /**
   * A snapshot of the pool's counters and of each live worker, taken atomically: how many tasks were
   * submitted, completed, failed, cancelled, are queued or running, how many workers started and
   * were lost, and per worker its pid, tasks, busy time and state. Cheap (no I/O, no waiting for
   * workers; it holds the pool's scheduling lock for well under a microsecond): it may be called every
   * 100 ms for the whole life of a busy pool, also after it was closed. Do not call it in a tight
   * loop: a thread that does competes for that lock with the threads that deliver results.
   */
  PoolStats stats();

  /** The configured number of local worker processes (those the pool starts on this machine). */
  int processes();

  /**
   * Changes how many workers the pool's cluster keeps ({@link Builder#cluster}), at run time. More:
   * the engine is asked for the new ones at once (one request). Fewer: pending jobs are cancelled
   * first, then idle workers are told to exit, then busy ones retire once their tasks are done; no
   * task is cut off. Returns without waiting for the engine.
   *
   * @param clusterWorkers the new count, {@code >= 0}
   * @throws UnsupportedOperationException if the pool has no cluster
   * @throws IllegalArgumentException if {@code clusterWorkers} is negative, or 0 while the pool has
   *     no local worker
   * @throws PoolClosedException if the pool was closed or terminated
   * @throws WorkerStartException if the cluster cannot place workers: a job of this pool waited for a
   *     reason that can never clear (a request the cluster cannot satisfy), so the pool stopped asking
   */
  default void scale(int clusterWorkers) {
    throw new UnsupportedOperationException("this pool has no cluster: set ProcessPool.builder().cluster(...)");
  }

  /**
   * Lets the pool choose how many cluster workers it keeps, between {@code min} and {@code max}, from
   * its backlog, like Dask's adaptive scaling: about every second it wants one worker per task queued
   * or running (less the local workers); it asks the engine for more at once, and lets surplus workers
   * go (pending jobs first, then idle workers) once the surplus has lasted 30 seconds. A later
   * {@link #scale(int)} turns this off.
   *
   * @throws UnsupportedOperationException if the pool has no cluster
   * @throws IllegalArgumentException if {@code min < 0}, {@code max < min}, or {@code max} is 0 while
   *     the pool has no local worker
   * @throws PoolClosedException if the pool was closed or terminated
   */
  default void adapt(int min, int max) {
    adapt(min, max, Duration.ofSeconds(30));
  }

  /**
   * {@link #adapt(int, int)} with the time a surplus of workers must last before they are let go.
   *
   * @param scaleDownAfter at least 0
   */
  default void adapt(int min, int max, Duration scaleDownAfter) {
    throw new UnsupportedOperationException("this pool has no cluster: set ProcessPool.builder().cluster(...)");
  }

  /** The name of the transport this pool uses, such as {@code "pipes"}. */
  String transport();

  /**
   * The pids of the live workers, in no particular order. Workers of an in-JVM transport report this
   * JVM's pid.
   */
  List<Long> workerPids();

  /**
   * The address the pool's transport listens on: what a worker started by hand passes to
   * {@code WorkerMain --connect} (see {@link Builder#listenAddress(String)}).
   */
  String address();

  /**
   * Builds a {@link ProcessPool}. Each option may be set once; a bad value fails at once with an
   * exception that names it.
   */
  final class Builder {
    private final PoolOptions.Builder options = PoolOptions.newBuilder();

    Builder() {}

    /**
     * The number of local worker processes, started on this machine ({@code >= 1}, or {@code >= 0}
     * with a {@link #cluster cluster}); default: available processors, or 0 with a cluster.
     */
    public Builder processes(int processes) {
      options.processes(processes);
      return this;
    }

    /**
     * The transport by name: {@code "pipes"} (default), {@code "grpc"}, {@code "threads"} (in-JVM, for
     * debugging) or any provider on the classpath.
     */
    public Builder transport(String name) {
      options.transport(name);
      return this;
    }

    /** A task each worker runs once before its first task. If it throws, {@code build()} fails with it. */
    public Builder initializer(SerializableRunnable initializer) {
      options.initializer(initializer);
      return this;
    }

    /** A worker retires (and is replaced) after running this many tasks ({@code >= 1}); default unlimited. */
    public Builder maxTasksPerChild(int maxTasks) {
      options.maxTasksPerChild(maxTasks);
      return this;
    }

    /**
     * A worker whose resident memory exceeds {@code bytes} after a task is replaced (it finishes the
     * tasks it already holds, then exits), like billiard's {@code max_memory_per_child}: a cure for
     * tasks that leak. Measured from {@code /proc/self/statm}, so Linux only; elsewhere it has no
     * effect. Default: no cap.
     */
    public Builder maxMemoryPerChild(long bytes) {
      options.maxMemoryPerChild(bytes);
      return this;
    }

    /**
     * Runs a task again, up to {@code retries} times, when its worker crashes while holding it,
     * instead of failing it with {@link WorkerCrashedException}. Only for idempotent tasks: a
     * retried task may have run in part or in full before the crash. Timeouts, cancellation and
     * termination are never retried. Default: no retry.
     */
    public Builder retryOnCrash(int retries) {
      options.retryOnCrash(retries);
      return this;
    }

    /**
     * The longest a task may run; on expiry its worker is killed and replaced and the task fails
     * with {@link TaskTimeoutException}. Default: none. With a timeout each worker holds one task at a
     * time, so that timeouts are measured from the real start of a task. A task's time includes what
     * the worker does for it besides calling the function: decoding its arguments and encoding its
     * result, which for values of many megabytes can take tens of milliseconds (more in a worker that
     * has just started), so leave room for that in a short timeout.
     */
    public Builder taskTimeout(Duration timeout) {
      options.taskTimeout(timeout);
      return this;
    }

    /** Extra JVM options for the worker JVMs, such as {@code -Xmx512m}. */
    public Builder jvmOptions(String... jvmOptions) {
      options.jvmOptions(List.of(jvmOptions));
      return this;
    }

    /**
     * The classpath of the worker JVMs, used as is. By default workers start the way this JVM runs:
     *
     * <ul>
     *   <li>its {@code java.class.path} (a plain {@code java -cp} or {@code java -jar} launch, a shaded
     *       jar, Surefire);
     *   <li>the {@code file:} URLs of the {@link java.net.URLClassLoader}s between the application
     *       class loader and the one that loaded procpool (or the thread's context class loader, when
     *       it sees procpool too): {@code mvn exec:java}, IDE runners, application servers;
     *   <li>a Spring Boot executable jar: workers run the same jar through Spring Boot's
     *       {@code PropertiesLauncher}, so nested jars resolve without unpacking;
     *   <li>the module path, when procpool's jars are named modules of the boot layer
     *       ({@code java -p mods -m app/app.Main}): workers run on the same module path with the same
     *       modules.
     * </ul>
     *
     * <p>A detected classpath that lacks procpool's classes fails {@code build()} with a
     * {@link WorkerStartException} that says what was detected; set this option then.
     */
    public Builder workerClasspath(String classpath) {
      options.workerClasspath(classpath);
      return this;
    }

    /** The codec by name; default {@code "java"} (Java serialization behind an ObjectInputFilter). */
    public Builder codec(String name) {
      options.codec(name);
      return this;
    }

    /**
     * The largest message, in bytes, that the pool sends or accepts; default 64 MiB. A larger task is
     * refused at submit time, a larger result fails its task, and a peer that announces a larger frame
     * is disconnected.
     */
    public Builder maxFrameSize(int bytes) {
      options.maxFrameSize(bytes);
      return this;
    }

    /**
     * An {@link java.io.ObjectInputFilter} pattern (JEP 290 syntax) applied before the built-in one on
     * every decode, in the parent and in the workers, e.g. {@code "com.example.*;!*"} to allow only
     * your own classes.
     */
    public Builder serialFilter(String pattern) {
      options.serialFilter(pattern);
      return this;
    }

    /**
     * Where the transport listens, instead of its private default (a socket in a private directory
     * for {@code pipes}, {@code 127.0.0.1} on an ephemeral port for {@code grpc}). With gRPC, use
     * {@code "0.0.0.0:7000"} (and TLS properties) to let workers on other hosts join: start them with
     * {@code java -cp <classpath> io.procpool.core.WorkerMain --transport grpc --connect host:7000}
     * and the pool's key in the environment variable {@code PROCPOOL_AUTH_KEY} (Base64) or a file
     * ({@code --auth-key-file}). Such workers take tasks like the pool's own; when one dies its tasks
     * fail with {@link WorkerCrashedException} and it is not replaced.
     */
    public Builder listenAddress(String address) {
      options.listenAddress(address);
      return this;
    }

    /** A transport-specific setting, such as {@code grpc.tls.certChain}; see the transport's docs. */
    public Builder transportProperty(String key, String value) {
      options.transportProperty(key, value);
      return this;
    }

    /**
     * The pool's shared secret (at least 16 bytes), which every worker must prove; default: 32 random
     * bytes. Set it when workers are started by hand on other hosts.
     */
    public Builder authKey(byte[] key) {
      options.authKey(key);
      return this;
    }

    /**
     * Where callbacks ({@code applyAsync}/{@code mapAsync} callbacks, {@link ProgressListener}s) and
     * {@code toCompletableFuture()} views run, instead of the pool's own callback thread and small
     * view pool. Callbacks and progress calls still run one at a time, in completion order (the
     * pool feeds them to {@code executor} one after another); views complete on it as they come.
     * The pool never shuts {@code executor} down; {@code close()} returns once the callbacks it
     * queued there have run. If {@code executor} rejects a callback (shut down, saturated), the pool
     * logs a warning and runs callbacks on a thread of its own from then on, still one at a time.
     *
     * <p>A callback that waits for another task's {@code toCompletableFuture()} needs that view to
     * complete on another thread of {@code executor}: with a single-thread executor it would wait
     * for itself (the pool's own threads keep views apart from callbacks, so this works there).
     */
    public Builder callbackExecutor(Executor executor) {
      options.callbackExecutor(executor);
      return this;
    }

    /**
     * Workers placed by a cluster engine, such as Slurm ({@code io.procpool.cluster.slurm.SlurmCluster}
     * in the {@code cluster-slurm} module), beside or instead of local ones; set how many with
     * {@link #clusterWorkers(int)} and change it with {@link ProcessPool#scale(int)}.
     *
     * <p>Cluster workers connect back to the pool over the network, so the transport must listen
     * where the nodes reach it: {@code transport("grpc")} with {@link #listenAddress(String)} (TLS
     * properties are required when that address is not a loopback one). The pool asks the engine
     * for its workers in one request, replaces those that die, tells the engine to cancel every job it
     * launched (pending ones included) when it is closed or terminated or its JVM exits, and names
     * those jobs {@code procpool-<id>} so that forgotten ones can be found. Without local workers
     * ({@code processes(0)}, the default with a cluster), {@code build()} waits until the first
     * cluster worker is ready, however long its job waits in the engine's queue (the wait can be
     * interrupted), and fails with {@link WorkerStartException} if the jobs cannot start.
     */
    public Builder cluster(io.procpool.api.cluster.Cluster cluster) {
      options.cluster(cluster);
      return this;
    }

    /** How many workers the {@link #cluster cluster} keeps at first ({@code >= 0}); see {@link ProcessPool#scale}. */
    public Builder clusterWorkers(int workers) {
      options.clusterWorkers(workers);
      return this;
    }

    /** Starts the workers and returns when the first one can take tasks. */
    public ProcessPool build() {
      return PoolFactory.load().create(options.build());
    }
  }
}
