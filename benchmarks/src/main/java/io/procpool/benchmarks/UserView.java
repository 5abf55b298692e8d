package io.procpool.benchmarks;

import io.procpool.api.AsyncResult;
import io.procpool.api.ManagedQueue;
import io.procpool.api.Manager;
import io.procpool.api.ProcessPool;
import java.io.IOException;
import java.io.PrintStream;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;

/**
 * The comparison's workloads measured the way a user's quick benchmark would measure them, not with
 * JMH: one plain JVM (default options), one pool of 2 built once and reused for every workload, the
 * public API only, boxed {@code Long} values where Python has {@code int}s ({@code Integer} and
 * {@code String} in two extra map rows), {@code subList} slices for warm-ups, {@code System.nanoTime}
 * around each run, the median of a few runs. Every workload is defined as in {@code
 * benchmarks/compare/compare.py}'s Python side (same sizes, warm-ups and repeats) and the result is
 * reduced to seconds per op the same way.
 *
 * <pre>
 * java -cp benchmarks/target/benchmarks.jar io.procpool.benchmarks.UserView [--quick] [--transport pipes]
 *     [--rows apply,map,...] [--rounds 1] [--out values.json]
 * </pre>
 *
 * <p>Prints one line per row on stderr (with the parent JVM's garbage collections during the row) and,
 * with {@code --out}, writes {@code {"row": seconds per op, ...}} of the first round as JSON. {@code
 * --rounds n} measures every row again n - 1 times in the same JVM, with the same pool (stderr only):
 * how much a longer warm-up changes a row. {@code --fresh-pool} builds a new pool for every row (as JMH
 * and the Python side do) instead of reusing one. Row {@code map_sublist} (only on request) maps a
 * {@code subList} view of 10⁶ {@code Long}s instead of an {@code ArrayList}.
 */
public final class UserView {
  static final int PROCESSES = 2;
  static final int QUEUE_ITEMS = 20_000;
  static final int MIB = 1 << 20;

  static final List<String> ROWS = List.of("start", "apply", "apply_async", "map", "map_integer", "map_string",
      "imap_unordered", "echo_1m", "echo_16m", "queue_pairs", "queue_stream");

  /** Rows measured only when asked for by name ({@code --rows}): experiments, not in the comparison. */
  static final List<String> EXTRA_ROWS = List.of("map_sublist");

  private final boolean quick;
  private final String transport;
  private boolean freshPool;
  private ProcessPool pool;
  private Manager manager;

  private UserView(boolean quick, String transport) {
    this.quick = quick;
    this.transport = transport;
  }

  // ------------------------------------------------------------------ task functions

  static Object noop() {
    return null;
  }

  static <T> T ident(T x) {
    return x;
  }

  static byte[] echo(byte[] b) {
    return b;
  }

  static long queueConsume(ManagedQueue<Long> q) {
    long total = 0;
    for (int i = 0; i < QUEUE_ITEMS; i++) {
      total += q.get();
    }
    return total;
  }

  static Void queueProduce(ManagedQueue<Long> q) {
    for (long i = 0; i < QUEUE_ITEMS; i++) {
      q.put(i);
    }
    return null;
  }

  // ------------------------------------------------------------------ measurements (seconds per op)

  interface Run {
    double once() throws Exception;
  }

  static double medianOf(int repeats, Run run) throws Exception {
    double[] xs = new double[repeats];
    for (int i = 0; i < repeats; i++) {
      xs[i] = run.once();
    }
    Arrays.sort(xs);
    return repeats % 2 == 1 ? xs[repeats / 2] : (xs[repeats / 2 - 1] + xs[repeats / 2]) / 2;
  }

  private static double seconds(long t0) {
    return (System.nanoTime() - t0) / 1e9;
  }

  private ProcessPool newPool() {
    return ProcessPool.builder().transport(transport).processes(PROCESSES).build();
  }

  private ProcessPool pool() {
    if (pool == null) {
      pool = newPool();
    }
    return pool;
  }

  private Manager manager() {
    if (manager == null) {
      manager = Manager.builder().transport(transport).build();
    }
    return manager;
  }

  double start() throws Exception {
    Run once = () -> {
      long t0 = System.nanoTime();
      ProcessPool p = newPool();
      p.apply(UserView::noop);
      double dt = seconds(t0);
      p.close(); // not timed, as in compare.py and StartBenchmark
      return dt;
    };
    once.once();
    return medianOf(quick ? 3 : 7, once);
  }

  double apply() throws Exception {
    ProcessPool p = pool();
    int n = quick ? 300 : 2000;
    for (int i = 0; i < 200; i++) {
      p.apply(UserView::noop);
    }
    return medianOf(quick ? 3 : 5, () -> {
      long t0 = System.nanoTime();
      for (int i = 0; i < n; i++) {
        p.apply(UserView::noop);
      }
      return seconds(t0) / n;
    });
  }

  double applyAsync() throws Exception {
    ProcessPool p = pool();
    int n = 50_000;
    List<AsyncResult<Object>> warm = new ArrayList<>();
    for (int i = 0; i < 5000; i++) {
      warm.add(p.applyAsync(UserView::noop));
    }
    for (AsyncResult<Object> r : warm) {
      r.get();
    }
    return medianOf(quick ? 1 : 3, () -> {
      long t0 = System.nanoTime();
      List<AsyncResult<Object>> rs = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        rs.add(p.applyAsync(UserView::noop));
      }
      for (AsyncResult<Object> r : rs) {
        r.get();
      }
      return seconds(t0) / n;
    });
  }

  <T> double map(List<T> xs) throws Exception {
    ProcessPool p = pool();
    p.map(UserView::ident, xs.subList(0, 100_000));
    return medianOf(quick ? 1 : 3, () -> {
      long t0 = System.nanoTime();
      List<T> out = p.map(UserView::ident, xs);
      double dt = seconds(t0);
      check(out.size() == xs.size(), "map returned " + out.size() + " items");
      return dt / xs.size();
    });
  }

  double imapUnordered() throws Exception {
    ProcessPool p = pool();
    List<Long> xs = new ArrayList<>();
    for (long i = 0; i < 200_000; i++) {
      xs.add(i);
    }
    for (Iterator<Long> it = p.imapUnordered(UserView::ident, xs.subList(0, 20_000), 100); it.hasNext(); ) {
      it.next();
    }
    return medianOf(quick ? 1 : 3, () -> {
      long t0 = System.nanoTime();
      int k = 0;
      for (Iterator<Long> it = p.imapUnordered(UserView::ident, xs, 100); it.hasNext(); ) {
        it.next();
        k++;
      }
      double dt = seconds(t0);
      check(k == xs.size(), "imapUnordered yielded " + k + " items");
      return dt / xs.size();
    });
  }

  double echo(int size) throws Exception {
    ProcessPool p = pool();
    byte[] payload = new byte[size];
    new Random().nextBytes(payload);
    int reps = quick ? Math.max(3, 20 * MIB / size) : Math.max(10, 100 * MIB / size);
    for (int i = 0; i < 3; i++) {
      p.apply(UserView::echo, payload);
    }
    return medianOf(reps, () -> {
      long t0 = System.nanoTime();
      byte[] back = p.apply(UserView::echo, payload);
      double dt = seconds(t0);
      check(back.length == size, "echo returned " + back.length + " bytes");
      return dt;
    });
  }

  double queuePairs() throws Exception {
    ManagedQueue<Long> q = manager().queue();
    int n = quick ? 2_000 : 10_000;
    Run once = () -> {
      long t0 = System.nanoTime();
      for (long i = 0; i < n; i++) {
        q.put(i);
        q.get();
      }
      return seconds(t0) / n;
    };
    once.once();
    return medianOf(quick ? 1 : 3, once);
  }

  double queueStream() throws Exception {
    ProcessPool p = pool();
    ManagedQueue<Long> q = manager().queue();
    Run once = () -> {
      long t0 = System.nanoTime();
      AsyncResult<Long> consumer = p.applyAsync(UserView::queueConsume, q);
      p.apply(UserView::queueProduce, q);
      consumer.get(10, TimeUnit.MINUTES);
      return seconds(t0) / QUEUE_ITEMS;
    };
    once.once();
    return medianOf(quick ? 1 : 3, once);
  }

  double measure(String row) throws Exception {
    switch (row) {
      case "start":
        return start();
      case "apply":
        return apply();
      case "apply_async":
        return applyAsync();
      case "map": {
        List<Long> xs = new ArrayList<>();
        for (long i = 0; i < 1_000_000; i++) {
          xs.add(i);
        }
        return map(xs);
      }
      case "map_sublist": {
        List<Long> xs = new ArrayList<>();
        for (long i = 0; i < 1_000_001; i++) {
          xs.add(i);
        }
        return map(xs.subList(0, 1_000_000));
      }
      case "map_integer": {
        List<Integer> xs = new ArrayList<>();
        for (int i = 0; i < 1_000_000; i++) {
          xs.add(i);
        }
        return map(xs);
      }
      case "map_string": {
        List<String> xs = new ArrayList<>();
        for (int i = 0; i < 1_000_000; i++) {
          xs.add(Integer.toString(i));
        }
        return map(xs);
      }
      case "imap_unordered":
        return imapUnordered();
      case "echo_1m":
        return echo(MIB);
      case "echo_16m":
        return echo(16 * MIB);
      case "queue_pairs":
        return queuePairs();
      case "queue_stream":
        return queueStream();
      default:
        throw new IllegalArgumentException("unknown row " + row + "; rows: " + String.join(",", ROWS));
    }
  }

  /** Collections and milliseconds spent in them so far, over all of this JVM's collectors. */
  private static long[] gc() {
    long count = 0;
    long millis = 0;
    for (GarbageCollectorMXBean b : ManagementFactory.getGarbageCollectorMXBeans()) {
      count += Math.max(0, b.getCollectionCount());
      millis += Math.max(0, b.getCollectionTime());
    }
    return new long[] {count, millis};
  }

  private static void check(boolean ok, String message) {
    if (!ok) {
      throw new AssertionError(message);
    }
  }

  public static void main(String[] args) throws Exception {
    boolean quick = false;
    boolean freshPool = false;
    String transport = "pipes";
    List<String> rows = ROWS;
    Path out = null;
    int rounds = 1;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--quick":
          quick = true;
          break;
        case "--transport":
          transport = args[++i];
          break;
        case "--rows":
          rows = List.of(args[++i].split(","));
          break;
        case "--fresh-pool":
          freshPool = true;
          break;
        case "--rounds":
          rounds = Integer.parseInt(args[++i]);
          break;
        case "--out":
          out = Path.of(args[++i]);
          break;
        default:
          throw new IllegalArgumentException("unknown argument " + args[i]
              + "; usage: UserView [--quick] [--transport pipes] [--rows a,b] [--rounds n] [--fresh-pool] [--out file.json]");
      }
    }
    // start first: the first pool of a fresh JVM, as in a user's program; then the shared pool.
    List<String> order = new ArrayList<>();
    for (String r : ROWS) {
      if (rows.contains(r)) {
        order.add(r);
      }
    }
    for (String r : EXTRA_ROWS) {
      if (rows.contains(r)) {
        order.add(r);
      }
    }
    for (String r : rows) {
      if (!ROWS.contains(r) && !EXTRA_ROWS.contains(r)) {
        throw new IllegalArgumentException("unknown row " + r + "; rows: " + String.join(",", ROWS));
      }
    }
    UserView view = new UserView(quick, transport);
    view.freshPool = freshPool;
    Map<String, Double> values = new LinkedHashMap<>();
    PrintStream err = System.err;
    try {
      for (int round = 1; round <= rounds; round++) {
        for (String row : order) {
          err.printf(Locale.ROOT, "user view %s %s%s ... ", transport, row, rounds > 1 ? " (round " + round + ")" : "");
          err.flush();
          long[] gc0 = gc();
          double s = view.measure(row);
          long[] gc1 = gc();
          if (view.freshPool && view.pool != null) {
            view.pool.close();
            view.pool = null;
          }
          if (round == 1) {
            values.put(row, s);
          }
          err.printf(Locale.ROOT, "%.4g s/op; parent GC during the row: %d collections, %d ms%n", s,
              gc1[0] - gc0[0], gc1[1] - gc0[1]);
        }
      }
    } finally {
      if (view.manager != null) {
        view.manager.close();
      }
      if (view.pool != null) {
        view.pool.close();
      }
    }
    StringBuilder json = new StringBuilder("{");
    for (Map.Entry<String, Double> e : values.entrySet()) {
      json.append(json.length() > 1 ? ", " : "").append('"').append(e.getKey()).append("\": ")
          .append(String.format(Locale.ROOT, "%.6e", e.getValue()));
    }
    json.append("}\n");
    if (out != null) {
      Files.writeString(out, json, StandardCharsets.UTF_8);
    } else {
      System.out.print(json);
    }
  }
}
