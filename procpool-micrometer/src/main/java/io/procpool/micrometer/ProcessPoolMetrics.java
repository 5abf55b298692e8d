package io.procpool.micrometer;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.FunctionTimer;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tag;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.binder.BaseUnits;
import io.micrometer.core.instrument.binder.MeterBinder;
import io.procpool.api.PoolStats;
import io.procpool.api.ProcessPool;
import io.procpool.api.WorkerStats;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import java.util.function.ToDoubleFunction;

/**
 * Micrometer meters for one {@link ProcessPool}, read from its {@link ProcessPool#stats()}
 * snapshots. Every meter is function-based: nothing runs per task, and a value is read only when a
 * registry asks for it (a scrape or a publish). The meters of one scrape share one snapshot, so
 * their values add up ({@code submitted = completed + failed + cancelled + queued + running}): a new
 * snapshot is taken when a meter that has read the current one reads again (the next scrape) and
 * the snapshot is at least {@value #SNAPSHOT_TTL_MILLIS} ms old, or when it is a second old.
 *
 * <pre>{@code
 * ProcessPool pool = ProcessPool.create(4);
 * new ProcessPoolMetrics(pool, "thumbnails", Tags.of("app", "gallery")).bindTo(registry);
 * }</pre>
 *
 * <p>The meters, each tagged {@code pool=<name>} plus the given tags (names as Micrometer writes
 * them; a Prometheus registry appends the base unit and shows {@code procpool.tasks.completed} as
 * {@code procpool_tasks_completed_tasks_total}, {@code procpool.tasks.queued} as
 * {@code procpool_tasks_queued_tasks}):
 *
 * <table class="striped">
 *   <caption>Meters</caption>
 *   <thead><tr><th>name</th><th>type</th><th>base unit</th><th>value</th></tr></thead>
 *   <tbody>
 *   <tr><td>{@code procpool.tasks.submitted}</td><td>function counter</td><td>tasks</td>
 *       <td>{@link PoolStats#submitted()}: tasks accepted (a map item counts as one task)</td></tr>
 *   <tr><td>{@code procpool.tasks.completed}</td><td>function counter</td><td>tasks</td>
 *       <td>{@link PoolStats#completed()}: tasks that returned a value</td></tr>
 *   <tr><td>{@code procpool.tasks.failed}</td><td>function counter</td><td>tasks</td>
 *       <td>{@link PoolStats#failed()}: tasks that threw, crashed, timed out or were terminated</td></tr>
 *   <tr><td>{@code procpool.tasks.cancelled}</td><td>function counter</td><td>tasks</td>
 *       <td>{@link PoolStats#cancelled()}</td></tr>
 *   <tr><td>{@code procpool.tasks.queued}</td><td>gauge</td><td>tasks</td>
 *       <td>{@link PoolStats#queued()}: waiting in the pool for a worker</td></tr>
 *   <tr><td>{@code procpool.tasks.running}</td><td>gauge</td><td>tasks</td>
 *       <td>{@link PoolStats#running()}: held by a worker</td></tr>
 *   <tr><td>{@code procpool.tasks.run}</td><td>function timer</td><td>seconds (the registry's)</td>
 *       <td>total {@link PoolStats#runTime()}; count {@code completed + failed}</td></tr>
 *   <tr><td>{@code procpool.tasks.wait}</td><td>function timer</td><td>seconds (the registry's)</td>
 *       <td>total {@link PoolStats#waitTime()}; count {@code completed + failed}</td></tr>
 *   <tr><td>{@code procpool.workers.alive}</td><td>gauge</td><td>workers</td>
 *       <td>live workers: the size of {@link PoolStats#workers()}</td></tr>
 *   <tr><td>{@code procpool.workers.busy}</td><td>gauge</td><td>workers</td>
 *       <td>live workers in state {@link WorkerStats.State#BUSY}</td></tr>
 *   <tr><td>{@code procpool.workers.started}</td><td>function counter</td><td>workers</td>
 *       <td>{@link PoolStats#workersStarted()}, replacements included</td></tr>
 *   <tr><td>{@code procpool.workers.lost}</td><td>function counter</td><td>workers</td>
 *       <td>{@link PoolStats#workersLost()}: crashed or killed</td></tr>
 *   <tr><td>{@code procpool.bytes.sent}</td><td>function counter</td><td>bytes</td>
 *       <td>{@link PoolStats#bytesSent()}: tasks and functions written to workers</td></tr>
 *   <tr><td>{@code procpool.bytes.received}</td><td>function counter</td><td>bytes</td>
 *       <td>{@link PoolStats#bytesReceived()}</td></tr>
 *   </tbody>
 * </table>
 *
 * <p>The two timers divide a total by {@code completed + failed}, so their mean is per task (per
 * map item), averaged over the tasks with an outcome (a task lost with its worker counts the time it
 * ran until the loss). They have no percentiles: the pool keeps totals, not a histogram.
 *
 * <p>The registry does not keep the pool alive: like Micrometer's own binders, the meters hold the
 * pool through a weak reference; once it has been garbage-collected the gauges report {@code NaN}
 * and the counters and timers keep the last value they read. A
 * closed pool that is still referenced keeps reporting its final counts; remove its meters from
 * the registry when it no longer matters. This object holds the pool until it is itself dropped.
 *
 * <p>Thread-safe; {@link #bindTo} may be called for several registries.
 */
public final class ProcessPoolMetrics implements MeterBinder {
  /** How old a snapshot must be before a meter reading it again takes a new one. */
  static final long SNAPSHOT_TTL_MILLIS = 50;

  private final ProcessPool pool;
  private final Tags tags;
  private final Snapshots snapshots;

  /**
   * Meters for {@code pool}, tagged {@code pool=<name>} and with {@code tags}.
   *
   * @param pool the pool to observe
   * @param name the value of the {@code pool} tag, to tell several pools apart: give each pool bound
   *     to one registry its own name (Micrometer keeps the first meter registered under a name and
   *     tags, so a second pool bound under the same name would not be measured)
   * @param tags more tags for every meter
   * @throws IllegalArgumentException if {@code name} is blank
   */
  public ProcessPoolMetrics(ProcessPool pool, String name, Iterable<Tag> tags) {
    this(pool, name, tags, System::nanoTime);
  }

  /**
   * Meters for {@code pool}, tagged {@code pool=<name>}.
   *
   * @param pool the pool to observe
   * @param name the value of the {@code pool} tag, to tell several pools apart
   * @throws IllegalArgumentException if {@code name} is blank
   */
  public ProcessPoolMetrics(ProcessPool pool, String name) {
    this(pool, name, Tags.empty());
  }

  /** With the clock that times the snapshot cache (for tests). */
  ProcessPoolMetrics(ProcessPool pool, String name, Iterable<Tag> tags, LongSupplier nanoClock) {
    this.pool = Objects.requireNonNull(pool, "pool");
    Objects.requireNonNull(name, "name");
    if (name.isBlank()) {
      throw new IllegalArgumentException("the pool name (the value of the 'pool' tag) must not be blank");
    }
    this.tags = Tags.concat(Objects.requireNonNull(tags, "tags"), Tags.of("pool", name));
    this.snapshots = new Snapshots(nanoClock, TimeUnit.MILLISECONDS.toNanos(SNAPSHOT_TTL_MILLIS));
  }

  @Override
  public void bindTo(MeterRegistry registry) {
    Objects.requireNonNull(registry, "registry");
    // The lambdas capture only `snapshots`, which holds no reference to the pool: Micrometer passes
    // the pool in from its weak reference, so the registry never keeps it alive.
    Snapshots s = snapshots;
    // Each function reads as its own reader: a reader that reads again starts a new snapshot.
    int r1 = s.reader();
    int r2 = s.reader();
    int r3 = s.reader();
    int r4 = s.reader();
    int r5 = s.reader();
    int r6 = s.reader();
    int r7 = s.reader();
    int r8 = s.reader();
    int r9 = s.reader();
    int r10 = s.reader();
    int r11 = s.reader();
    int r12 = s.reader();
    counter(registry, "procpool.tasks.submitted", BaseUnits.TASKS, "Tasks submitted to the pool (a map item is a task)",
        p -> s.of(p, r1).submitted());
    counter(registry, "procpool.tasks.completed", BaseUnits.TASKS, "Tasks that returned a value",
        p -> s.of(p, r2).completed());
    counter(registry, "procpool.tasks.failed", BaseUnits.TASKS,
        "Tasks that ended without a value: threw, crashed with their worker, timed out or were terminated",
        p -> s.of(p, r3).failed());
    counter(registry, "procpool.tasks.cancelled", BaseUnits.TASKS, "Tasks cancelled before they had an outcome",
        p -> s.of(p, r4).cancelled());
    gauge(registry, "procpool.tasks.queued", BaseUnits.TASKS, "Tasks waiting in the pool for a worker",
        p -> s.of(p, r5).queued());
    gauge(registry, "procpool.tasks.running", BaseUnits.TASKS, "Tasks held by a worker, running or queued on it",
        p -> s.of(p, r6).running());
    timer(registry, "procpool.tasks.run", "Time workers spent running tasks", s, PoolStats::runTime);
    timer(registry, "procpool.tasks.wait",
        "Time tasks spent between submission and their outcome while not running: queued and in transit",
        s, PoolStats::waitTime);
    gauge(registry, "procpool.workers.alive", "workers", "Live worker processes (starting, ready or retiring)",
        p -> s.of(p, r7).workers().size());
    gauge(registry, "procpool.workers.busy", "workers", "Live workers holding at least one task",
        p -> s.of(p, r8).workers().stream().filter(w -> w.state() == WorkerStats.State.BUSY).count());
    counter(registry, "procpool.workers.started", "workers", "Workers that became ready, replacements included",
        p -> s.of(p, r9).workersStarted());
    counter(registry, "procpool.workers.lost", "workers",
        "Workers that ended without the pool asking them to: crashed or killed", p -> s.of(p, r10).workersLost());
    counter(registry, "procpool.bytes.sent", BaseUnits.BYTES, "Bytes of tasks and functions written to workers",
        p -> s.of(p, r11).bytesSent());
    counter(registry, "procpool.bytes.received", BaseUnits.BYTES, "Bytes of messages received from workers",
        p -> s.of(p, r12).bytesReceived());
  }

  private void counter(MeterRegistry registry, String name, String unit, String description,
      ToDoubleFunction<ProcessPool> value) {
    FunctionCounter.builder(name, pool, value).baseUnit(unit).description(description).tags(tags).register(registry);
  }

  private void gauge(MeterRegistry registry, String name, String unit, String description,
      ToDoubleFunction<ProcessPool> value) {
    Gauge.builder(name, pool, value).baseUnit(unit).description(description).tags(tags).register(registry);
  }

  private void timer(MeterRegistry registry, String name, String description, Snapshots s,
      java.util.function.Function<PoolStats, Duration> total) {
    int countReader = s.reader();
    int totalReader = s.reader();
    FunctionTimer.builder(name, pool,
            p -> {
              PoolStats stats = s.of(p, countReader);
              return stats.completed() + stats.failed();
            },
            p -> total.apply(s.of(p, totalReader)).toNanos(), TimeUnit.NANOSECONDS)
        .description(description)
        .tags(tags)
        .register(registry);
  }

  /**
   * The latest snapshot and when it was taken, shared by the meters so that one scrape reads one
   * snapshot: each meter function is a reader, and a new snapshot is taken when a reader that has
   * already read the current one reads again (a new scrape) once it is {@code ttl} old, or when it is
   * older than {@link #MAX_AGE_NANOS}. Holds no reference to the pool (the meters pass it in), so
   * that the meters' weak references are the only way the registry reaches the pool.
   */
  static final class Snapshots {
    /** A snapshot older than this is renewed whoever reads. */
    static final long MAX_AGE_NANOS = TimeUnit.SECONDS.toNanos(1);

    private final LongSupplier nanoClock;
    private final long ttlNanos;
    private final java.util.BitSet read = new java.util.BitSet();
    private int readers;
    private PoolStats last;
    private long takenAt;

    Snapshots(LongSupplier nanoClock, long ttlNanos) {
      this.nanoClock = nanoClock;
      this.ttlNanos = ttlNanos;
    }

    /** A new reader id, for one meter function. */
    synchronized int reader() {
      return readers++;
    }

    /** The snapshot of {@code pool} for {@code reader}; see the class documentation for when it is new. */
    synchronized PoolStats of(ProcessPool pool, int reader) {
      long now = nanoClock.getAsLong();
      long age = now - takenAt;
      if (last == null || age >= MAX_AGE_NANOS || (read.get(reader) && age >= ttlNanos)) {
        last = pool.stats();
        takenAt = now;
        read.clear();
      }
      read.set(reader);
      return last;
    }
  }
}
