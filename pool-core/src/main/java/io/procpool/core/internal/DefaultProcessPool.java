package io.procpool.core.internal;

import io.procpool.api.AsyncResult;
import io.procpool.api.MapOptions;
import io.procpool.api.PoolStats;
import io.procpool.api.ProgressListener;
import io.procpool.api.PoolTerminatedException;
import io.procpool.api.ProcPoolException;
import io.procpool.api.ProcessPool;
import io.procpool.api.SerializableCallable;
import io.procpool.api.SerializableFunction;
import io.procpool.api.SerializableRunnable;
import io.procpool.api.TaskFailedException;
import io.procpool.api.WorkerStartException;
import io.procpool.api.spi.CodecRegistry;
import io.procpool.api.spi.Connection;
import io.procpool.api.spi.PoolOptions;
import io.procpool.api.spi.TransportOptions;
import io.procpool.api.spi.TransportProvider;
import io.procpool.api.spi.TransportRegistry;
import io.procpool.api.spi.TransportServer;
import io.procpool.core.WorkerMain;
import io.procpool.core.internal.process.ChildJvm;
import io.procpool.core.internal.process.LaunchPlan;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

/**
 * The {@link ProcessPool} of pool-core: the API's overloads, waiting and rethrowing, map chunking,
 * and the pool's parts, wired together. It holds no lock; the work is done by:
 * <ul>
 *   <li>{@link TaskEncoder}: encodes tasks, items and functions on the caller's thread;
 *   <li>{@link Scheduler}: the queue, dispatch, completion, cancel, timeouts, retries, shutdown;
 *   <li>{@link WorkerSupervisor}: launching, handshakes, start failures, kills, replacement;
 *   <li>{@link WorkerChannel}: one per worker connection, decodes what the worker sends;
 *   <li>{@link MapResult}, {@link ImapIterator}, {@link AsyncResultImpl}: what callers hold.
 * </ul>
 * Callbacks run on one callback thread per pool, in completion order; {@code toCompletableFuture()}
 * views complete on a separate small ForkJoinPool, so that a callback may wait for another task.
 */
public final class DefaultProcessPool implements ProcessPool {
  private static final System.Logger LOG = System.getLogger("io.procpool");
  private static final AtomicInteger POOL_IDS = new AtomicInteger();
  private static final Duration BUILD_TIMEOUT = Duration.ofSeconds(120);
  private static final int MAX_IN_FLIGHT = Scheduler.MAX_IN_FLIGHT;
  /** How long close() and terminate() wait for the cluster engine to confirm that the pool's jobs ended. */
  private static final Duration CLUSTER_CANCEL_WAIT = Duration.ofSeconds(30);

  private final PoolOptions options;
  private final int poolId = POOL_IDS.incrementAndGet();
  private final TransportProvider provider;
  private final Payloads payloads;
  private final TaskEncoder encoder;
  private final Callbacks callbacks;
  private final PoolClock clock;
  private final Scheduler scheduler;
  private final WorkerSupervisor supervisor;
  private final TransportServer server;
  /** The pool's cluster workers, or null. */
  private final ClusterWorkers cluster;
  private Thread clusterShutdownHook;
  /** imaps with a progress listener: their final call comes at the latest when the pool ends. */
  private final java.util.Set<ImapIterator<?>> imapsWithProgress =
      java.util.Collections.synchronizedSet(java.util.Collections.newSetFromMap(new java.util.WeakHashMap<>()));

  private DefaultProcessPool(PoolOptions options) throws IOException {
    this.options = options;
    this.provider = TransportRegistry.get(options.transport());
    LaunchPlan plan = null;
    if (!provider.workersInProcess()) {
      // Before any thread or socket exists: a plan that cannot work fails the build with the reason.
      try {
        plan = LaunchPlan.detect(options.workerClasspath().orElse(null), "ProcessPool.builder().workerClasspath(...)");
        plan.check(WorkerMain.class, provider.getClass());
      } catch (IllegalStateException e) {
        throw new WorkerStartException("cannot start worker JVMs: " + e.getMessage(), e);
      }
    }
    ClassLoader loader = Thread.currentThread().getContextClassLoader() != null
        ? Thread.currentThread().getContextClassLoader() : DefaultProcessPool.class.getClassLoader();
    this.payloads = new Payloads(CodecRegistry.get(options.codec()),
        SerialFilters.create(options.serialFilter().orElse(null), options.maxFrameSize()), loader);
    this.encoder = new TaskEncoder(payloads, options.maxFrameSize());
    Buf initializer = null;
    if (options.initializer().isPresent()) {
      initializer = new Buf(256);
      payloads.encode(options.initializer().get(), initializer, "the initializer");
    }
    ByteBuffer init = WorkerProtocol.init(options.codec(), options.serialFilter().orElse(null), true,
        options.maxMemoryPerChild(), initializer, options.maxFrameSize()).asReadOnlyBuffer();
    this.callbacks = options.callbackExecutor().map(Callbacks::on).orElseGet(() -> Callbacks.own(poolId));
    this.clock = PoolClock.system("procpool-" + poolId + "-timer");
    this.scheduler = new Scheduler(options, clock, provider.workersInProcess());
    byte[] key = options.authKey().orElseGet(() -> {
      byte[] k = new byte[32];
      new SecureRandom().nextBytes(k);
      return k;
    });
    Map<String, String> transportProperties = new HashMap<>(options.transportProperties());
    if (options.cluster().isPresent()) {
      if (provider.workersInProcess()) {
        throw new IllegalArgumentException("the '" + provider.name() + "' transport runs workers in this JVM; a"
            + " cluster needs one that workers on other machines reach, such as transport(\"grpc\")");
      }
      provider.clusterProperties().forEach(transportProperties::putIfAbsent);
    }
    WorkerSupervisor[] sv = new WorkerSupervisor[1];
    this.server = provider.listen(
        new TransportOptions(key, options.maxFrameSize(), options.listenAddress().orElse(null),
            Map.copyOf(transportProperties)),
        c -> c.start(new WorkerChannel(c, scheduler, sv[0], payloads)));
    Map<String, String> childProperties = new HashMap<>(transportProperties);
    server.clientProperties().forEach(childProperties::putIfAbsent);
    List<String> childJvmOptions = childJvmOptions(provider, options.jvmOptions());
    WorkerLauncher launcher = provider.workersInProcess()
        ? new ThreadLauncher(provider, key, options.maxFrameSize())
        : new ProcessLauncher(provider.name(), plan, childJvmOptions, key, options.maxFrameSize(), childProperties);
    ClusterWorkers clusterWorkers = null;
    if (options.cluster().isPresent()) {
      try {
        // Only what a client needs (e.g. trust in the pool's certificate), never server-side settings such
        // as the pool's private key: the session copies file-valued properties where the nodes see them.
        Map<String, String> clusterWorkerProperties = new HashMap<>(server.clientProperties());
        provider.clusterProperties().forEach(clusterWorkerProperties::putIfAbsent);
        clusterWorkers = openCluster(options.cluster().get(), plan, childJvmOptions, key, clusterWorkerProperties);
      } catch (IOException | RuntimeException e) {
        server.close();
        clock.shutdown();
        throw e;
      }
    }
    this.cluster = clusterWorkers;
    this.supervisor = new WorkerSupervisor(scheduler, launcher, server::address, provider.workersInProcess(), init,
        clusterWorkers, options.clusterWorkers());
    sv[0] = supervisor;
  }

  /** Opens the cluster session: how the engine starts this pool's workers. */
  private ClusterWorkers openCluster(io.procpool.api.cluster.Cluster c, LaunchPlan plan, List<String> jvmOptions,
      byte[] key, Map<String, String> properties) throws IOException {
    LaunchPlan.ClusterForm form;
    try {
      form = plan.clusterForm(WorkerMain.class);
    } catch (IllegalStateException e) {
      throw new WorkerStartException("cannot start cluster workers: " + e.getMessage(), e);
    }
    List<String> options = new ArrayList<>(ChildJvm.procpoolOptions(jvmOptions, List.of()));
    options.addAll(jvmOptions);
    options.addAll(form.jvmOptions());
    String jobName = "procpool-" + ProcessHandle.current().pid() + "-" + poolId;
    io.procpool.api.cluster.WorkerCommand command = new io.procpool.api.cluster.WorkerCommand(jobName, ChildJvm.java(),
        options, form.classpath(), form.mainClass(),
        List.of("--transport", provider.name(), "--connect", reachableAddress(server.address()),
            "--max-frame-size", Integer.toString(this.options.maxFrameSize())),
        key, properties);
    io.procpool.api.cluster.ClusterSession session;
    try {
      session = c.open(command);
    } catch (IOException e) {
      throw new WorkerStartException("cannot use the " + c.name() + " cluster: " + e.getMessage(), e);
    }
    return new ClusterWorkers(session, c.name(), poolId);
  }

  /** A wildcard listen address is not one to connect to: the nodes reach this host by its name. */
  static String reachableAddress(String address) {
    for (String wildcard : new String[] {"0.0.0.0:", "[::]:", "*:"}) {
      if (address.startsWith(wildcard)) {
        try {
          return java.net.InetAddress.getLocalHost().getCanonicalHostName() + ":" + address.substring(wildcard.length());
        } catch (java.net.UnknownHostException e) {
          throw new WorkerStartException("the pool listens on " + address + " but this host's name is unknown ("
              + e.getMessage() + "); set listenAddress to an address the cluster's nodes reach", e);
        }
      }
    }
    return address;
  }

  /** The transport's options for child JVMs, then the user's (which win where the JVM takes the last). */
  public static List<String> childJvmOptions(TransportProvider provider, List<String> user) {
    List<String> all = new ArrayList<>(provider.childJvmOptions());
    all.addAll(user);
    return List.copyOf(all);
  }

  /** Starts a pool and waits until its first worker can take tasks. */
  public static DefaultProcessPool start(PoolOptions options) {
    DefaultProcessPool pool;
    try {
      pool = new DefaultProcessPool(options);
    } catch (IOException e) {
      throw new WorkerStartException("cannot open the '" + options.transport() + "' transport: " + e.getMessage(), e);
    }
    for (int i = 0; i < options.processes(); i++) {
      pool.supervisor.spawn();
    }
    if (pool.cluster != null) {
      pool.clusterShutdownHook = new Thread(() -> pool.cluster.shutdown(CLUSTER_CANCEL_WAIT),
          "procpool-" + pool.poolId + "-cluster-cleanup");
      Runtime.getRuntime().addShutdownHook(pool.clusterShutdownHook);
      pool.supervisor.startHeartbeat();
      pool.supervisor.ensureCluster();
    }
    try {
      if (options.processes() == 0) {
        // Only cluster workers: their jobs may wait in the engine's queue for as long as it decides.
        pool.supervisor.firstReady().get();
      } else {
        pool.supervisor.firstReady().get(BUILD_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
      }
    } catch (ExecutionException e) {
      pool.terminate();
      Throwable cause = e.getCause();
      throw cause instanceof WorkerStartException
          ? new WorkerStartException(cause.getMessage(), cause.getCause())
          : new WorkerStartException("workers failed to start: " + cause, cause);
    } catch (TimeoutException e) {
      pool.terminate();
      throw new WorkerStartException("no worker became ready within " + BUILD_TIMEOUT.toSeconds() + " s");
    } catch (InterruptedException e) {
      pool.terminate();
      Thread.currentThread().interrupt();
      throw new WorkerStartException("interrupted while starting workers");
    }
    return pool;
  }

  // ------------------------------------------------------------------ apply

  private <R> SingleTask<R> single(Object fn, byte kind, Object arg, boolean hasArg) {
    return new SingleTask<>(scheduler, encoder.single(fn, kind, arg, hasArg), callbacks.sequential, callbacks.views);
  }

  private <R> AsyncResult<R> submit(SingleTask<R> t, Consumer<? super R> cb, Consumer<? super Throwable> ecb) {
    t.result.callbacks(cb, ecb);
    scheduler.submit(t);
    return t.result;
  }

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
  public <R> AsyncResult<R> applyAsync(
      SerializableCallable<R> task, Consumer<? super R> callback, Consumer<? super Throwable> errorCallback) {
    return submit(single(requireTask(task), WorkerProtocol.KIND_CALL, null, false), callback, errorCallback);
  }

  @Override
  public <T, R> AsyncResult<R> applyAsync(SerializableFunction<T, R> fn, T arg) {
    return applyAsync(fn, arg, null, null);
  }

  @Override
  public <T, R> AsyncResult<R> applyAsync(
      SerializableFunction<T, R> fn, T arg, Consumer<? super R> callback, Consumer<? super Throwable> errorCallback) {
    return submit(single(requireTask(fn), WorkerProtocol.KIND_APPLY, arg, true), callback, errorCallback);
  }

  @Override
  public AsyncResult<Void> applyAsync(SerializableRunnable task) {
    return submit(single(requireTask(task), WorkerProtocol.KIND_RUN, null, false), null, null);
  }

  private static <F> F requireTask(F task) {
    if (task == null) {
      throw new NullPointerException("task");
    }
    return task;
  }

  private static <R> R await(AsyncResult<R> result) {
    try {
      return result.get();
    } catch (InterruptedException e) {
      result.cancel(false);
      Thread.currentThread().interrupt();
      throw new ProcPoolException("interrupted while waiting for a task; the task was withdrawn (if a worker"
          + " had started it, it runs to its end and its result is discarded)", e);
    } catch (ExecutionException e) {
      throw rethrow(e.getCause(), ((AsyncResultImpl<R>) result).taskThrew());
    }
  }

  static RuntimeException rethrow(Throwable cause, boolean thrownByTask) {
    if (thrownByTask) {
      return new TaskFailedException("the task failed: " + cause, cause);
    }
    if (cause instanceof RuntimeException) {
      return (RuntimeException) cause;
    }
    return new ProcPoolException(String.valueOf(cause), cause);
  }

  // ------------------------------------------------------------------ map

  /** The workers the pool keeps: local ones plus those its cluster is asked for now (at least 1). */
  private int workers() {
    return Math.max(1, options.processes() + supervisor.clusterTarget());
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
  public <T, R> List<R> map(SerializableFunction<T, R> fn, Iterable<? extends T> items, MapOptions options) {
    return await(mapAsync(fn, items, options));
  }

  @Override
  public <T, R> AsyncResult<List<R>> mapAsync(SerializableFunction<T, R> fn, Iterable<? extends T> items) {
    return mapAsync(fn, items, 0, null, null);
  }

  @Override
  public <T, R> AsyncResult<List<R>> mapAsync(
      SerializableFunction<T, R> fn, Iterable<? extends T> items, MapOptions options) {
    if (options == null) {
      throw new NullPointerException("options");
    }
    return mapAsync(fn, items, options.chunksize().orElse(0), null, null, options.progressListener().orElse(null));
  }

  @Override
  public <T, R> AsyncResult<List<R>> mapAsync(
      SerializableFunction<T, R> fn, Iterable<? extends T> items, int chunksize) {
    checkChunksize(chunksize);
    return mapAsync(fn, items, chunksize, null, null);
  }

  @Override
  public <T, R> AsyncResult<List<R>> mapAsync(
      SerializableFunction<T, R> fn,
      Iterable<? extends T> items,
      int chunksize,
      Consumer<? super List<R>> callback,
      Consumer<? super Throwable> errorCallback) {
    return mapAsync(fn, items, chunksize, callback, errorCallback, null);
  }

  /** {@code chunksize} 0: the default. */
  private <T, R> AsyncResult<List<R>> mapAsync(
      SerializableFunction<T, R> fn,
      Iterable<? extends T> items,
      int chunksize,
      Consumer<? super List<R>> callback,
      Consumer<? super Throwable> errorCallback,
      ProgressListener progress) {
    requireTask(fn);
    if (items == null) {
      throw new NullPointerException("items");
    }
    scheduler.checkAccepting();
    List<? extends T> list = items instanceof List ? (List<? extends T>) items : copy(items);
    int n = list.size();
    int size = chunksize > 0 ? chunksize : defaultChunksize(n);
    FunctionTable.Entry entry = encoder.function(fn);
    MapResult<R> map = new MapResult<>(scheduler, n, callbacks.sequential, callbacks.views,
        progress == null ? null : new ProgressTracker(progress, callbacks.forProgress(), clock, n));
    List<ChunkTask> chunks = new ArrayList<>(n / size + 1);
    if (chunksize > 0) {
      for (int from = 0, index = 0; from < n; from += size, index++) {
        int to = Math.min(n, from + size);
        chunks.add(new ChunkTask(encoder.chunk(entry, list.subList(from, to).iterator(), to - from, from),
            map, index, to - from));
      }
    } else {
      // The default size is a guess from the item count: chunks of large items are cut to fit a frame.
      for (int from = 0, index = 0; from < n; index++) {
        TaskEncoder.ChunkedItems c = encoder.chunkUpTo(entry, list, from, Math.min(size, n - from));
        chunks.add(new ChunkTask(c.encoded(), map, index, c.count()));
        from += c.count();
      }
    }
    map.start(chunks);
    map.result.callbacks(callback, errorCallback);
    if (!chunks.isEmpty()) {
      scheduler.submitAll(chunks, false);
    }
    return map.result;
  }

  /**
   * Python's default: about four chunks per worker. With a taskTimeout, one item per chunk, so that
   * the timeout applies to each item as users read it (an explicit chunksize makes it per chunk).
   */
  private int defaultChunksize(int n) {
    if (options.taskTimeout().isPresent()) {
      return 1;
    }
    int chunks = workers() * 4;
    return Math.max(1, n / chunks + (n % chunks == 0 ? 0 : 1));
  }

  private static void checkChunksize(int chunksize) {
    if (chunksize < 1) {
      throw new IllegalArgumentException("chunksize must be at least 1, got " + chunksize);
    }
  }

  private static <T> List<T> copy(Iterable<? extends T> items) {
    List<T> l = new ArrayList<>();
    items.forEach(l::add);
    return l;
  }

  @Override
  public <T, R> Iterator<R> imap(SerializableFunction<T, R> fn, Iterable<? extends T> items) {
    return imap(fn, items, 1, true);
  }

  @Override
  public <T, R> Iterator<R> imap(SerializableFunction<T, R> fn, Iterable<? extends T> items, int chunksize) {
    checkChunksize(chunksize);
    return imap(fn, items, chunksize, true);
  }

  @Override
  public <T, R> Iterator<R> imap(SerializableFunction<T, R> fn, Iterable<? extends T> items, MapOptions options) {
    return imap(fn, items, options, true);
  }

  @Override
  public <T, R> Iterator<R> imapUnordered(SerializableFunction<T, R> fn, Iterable<? extends T> items) {
    return imap(fn, items, 1, false);
  }

  @Override
  public <T, R> Iterator<R> imapUnordered(
      SerializableFunction<T, R> fn, Iterable<? extends T> items, MapOptions options) {
    return imap(fn, items, options, false);
  }

  private <T, R> Iterator<R> imap(SerializableFunction<T, R> fn, Iterable<? extends T> items, MapOptions options,
      boolean ordered) {
    if (options == null) {
      throw new NullPointerException("options");
    }
    return imap(fn, items, options.chunksize().orElse(1), ordered, options.progressListener().orElse(null));
  }

  @Override
  public <T, R> Iterator<R> imapUnordered(
      SerializableFunction<T, R> fn, Iterable<? extends T> items, int chunksize) {
    checkChunksize(chunksize);
    return imap(fn, items, chunksize, false);
  }

  private <T, R> Iterator<R> imap(SerializableFunction<T, R> fn, Iterable<? extends T> items, int chunksize,
      boolean ordered) {
    return imap(fn, items, chunksize, ordered, null);
  }

  private <T, R> Iterator<R> imap(SerializableFunction<T, R> fn, Iterable<? extends T> items, int chunksize,
      boolean ordered, ProgressListener progress) {
    requireTask(fn);
    if (items == null) {
      throw new NullPointerException("items");
    }
    ProgressTracker tracker = progress == null ? null : new ProgressTracker(progress, callbacks.forProgress(), clock,
        items instanceof java.util.Collection ? ((java.util.Collection<?>) items).size() : -1);
    ImapIterator<R> imap = new ImapIterator<>(scheduler, encoder, fn, items, chunksize, ordered, window(), tracker,
        callbacks);
    if (tracker != null) {
      imapsWithProgress.add(imap);
    }
    return imap;
  }

  private int window() {
    return Math.max(16, workers() * 2 * MAX_IN_FLIGHT);
  }


  // ------------------------------------------------------------------ lifecycle

  @Override
  public void close() {
    scheduler.close();
    finish();
  }

  @Override
  public void terminate() {
    PoolTerminatedException reason = new PoolTerminatedException("the pool was terminated");
    supervisor.firstReady().completeExceptionally(reason);
    scheduler.terminate(reason);
    finish();
  }

  @Override
  public void join() {
    scheduler.checkShutdown();
    scheduler.awaitQuiet(null);
  }

  /** After close() or terminate(): stops the transport and the pool's threads, once callbacks ran. */
  private void finish() {
    scheduler.finished();
    if (cluster != null) {
      cluster.shutdown(CLUSTER_CANCEL_WAIT);
      try {
        Runtime.getRuntime().removeShutdownHook(clusterShutdownHook);
      } catch (IllegalStateException e) {
        // the JVM is exiting: the hook runs (and finds the session ended)
      }
    }
    server.close();
    clock.shutdown();
    List<ImapIterator<?>> imaps;
    synchronized (imapsWithProgress) {
      imaps = new ArrayList<>(imapsWithProgress);
      imapsWithProgress.clear();
    }
    imaps.forEach(ImapIterator::poolEnded);
    callbacks.finish();
  }

  @Override
  public PoolStats stats() {
    return scheduler.stats();
  }

  @Override
  public int processes() {
    return options.processes();
  }

  @Override
  public void scale(int clusterWorkers) {
    if (cluster == null) {
      throw new UnsupportedOperationException("this pool has no cluster: set ProcessPool.builder().cluster(...)");
    }
    if (clusterWorkers < 0) {
      throw new IllegalArgumentException("clusterWorkers must be at least 0, got " + clusterWorkers);
    }
    supervisor.scale(clusterWorkers);
  }

  @Override
  public void adapt(int min, int max, Duration scaleDownAfter) {
    if (cluster == null) {
      throw new UnsupportedOperationException("this pool has no cluster: set ProcessPool.builder().cluster(...)");
    }
    if (scaleDownAfter == null) {
      throw new NullPointerException("scaleDownAfter");
    }
    supervisor.adapt(min, max, scaleDownAfter);
  }

  @Override
  public String transport() {
    return provider.name();
  }

  @Override
  public String address() {
    return server.address();
  }

  @Override
  public List<Long> workerPids() {
    return scheduler.workerPids();
  }

  @Override
  public String toString() {
    return "ProcessPool[" + provider.name() + ", processes=" + options.processes() + ", " + scheduler.describe() + "]";
  }
}
