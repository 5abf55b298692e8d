package io.procpool.examples;

import io.procpool.api.MapOptions;
import io.procpool.api.PoolStats;
import io.procpool.api.ProcessPool;
import io.procpool.api.WorkerStats;
import java.io.Console;
import java.lang.reflect.Method;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Consumer;
import me.tongfei.progressbar.DelegatingProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * Watching a pool: a {@code map} of a few thousand CPU-bound items drives a terminal progress bar
 * (<a href="https://github.com/ctongfei/progressbar">me.tongfei:progressbar</a>) through
 * {@link MapOptions#onProgress}, then a table of what each worker did, from {@link ProcessPool#stats()}
 * (mpire's "worker insights"). Like tqdm with Python's pool:
 *
 * <pre>{@code
 * with Pool() as pool:
 *     results = list(tqdm(pool.imap(count_primes, items, chunksize=10), total=len(items)))
 * }</pre>
 *
 * <p>On a terminal the bar redraws in place on stderr; when stderr is not a terminal (piped, in CI)
 * it prints one line about every second instead.
 */
public final class ProgressDemo {
  /** Items of {@code progress} when it is named: about 6 s on 2 cores. */
  static final int DEFAULT_ITEMS = 3000;
  /** Items of {@code progress} in the run of every example: about a second. */
  static final int ITEMS_IN_FULL_RUN = 300;

  private static final int PRIME_LIMIT = 40_000;

  private ProgressDemo() {}

  /**
   * The task: counts the primes below about 40 000 by trial division, a few milliseconds of CPU.
   *
   * @param seed varies the limit a little, so that tasks differ
   * @return the number of primes found
   */
  static int countPrimes(int seed) {
    int limit = PRIME_LIMIT + seed % 1000;
    int count = 0;
    for (int n = 2; n < limit; n++) {
      boolean prime = true;
      for (int d = 2; d * d <= n; d++) {
        if (n % d == 0) {
          prime = false;
          break;
        }
      }
      if (prime) {
        count++;
      }
    }
    return count;
  }

  /** Runs the program with the given transport on {@code items} items. */
  public static void run(String transport, int items) {
    List<Integer> inputs = new ArrayList<>(items);
    for (int i = 0; i < items; i++) {
      inputs.add(i);
    }
    PoolStats stats;
    Instant seen;
    try (ProcessPool pool = ProcessPool.builder().transport(transport).build()) {
      List<Integer> counts;
      try (ProgressBar bar = progressBar("primes", items)) {
        // Chunks of 10: the bar moves as chunks come back (the default chunk size, items / (4 *
        // workers), would move it in a handful of jumps). The listener's final call comes before
        // map returns, so the bar closes at 100%.
        counts = pool.map(ProgressDemo::countPrimes, inputs,
            MapOptions.defaults().chunksize(10).onProgress(p -> bar.stepTo(p.done())));
      }
      long total = counts.stream().mapToLong(Integer::longValue).sum();
      System.out.printf(Locale.ROOT, "%d items, %d primes counted in all%n", counts.size(), total);
      // Before close(): afterwards the workers have exited and the snapshot lists none.
      stats = pool.stats();
      seen = Instant.now();
    }
    printInsights(stats, seen);
  }

  /** A bar on stderr: redrawn in place on a terminal, one line a second otherwise. */
  private static ProgressBar progressBar(String task, long max) {
    ProgressBarBuilder b = new ProgressBarBuilder().setTaskName(task).setInitialMax(max).setUnit(" items", 1)
        .showSpeed();
    if (stderrIsTerminal()) {
      b.setStyle(ProgressBarStyle.COLORFUL_UNICODE_BLOCK).setUpdateIntervalMillis(100);
    } else {
      b.setStyle(ProgressBarStyle.ASCII).setUpdateIntervalMillis(1000).setMaxRenderedLength(100)
          .setConsumer(new DelegatingProgressBarConsumer(new OnceEach(), 100));
    }
    return b.build();
  }

  /** Prints each line of the bar to stderr unless it repeats the one before (as the final one does on close). */
  private static final class OnceEach implements Consumer<String> {
    private String last;

    @Override
    public synchronized void accept(String line) {
      if (!line.equals(last)) {
        System.err.println(line);
        last = line;
      }
    }
  }

  /**
   * Whether this JVM talks to a terminal: {@code System.console()} is {@code null} otherwise up to
   * JDK 21; from JDK 22 it is a console either way, and {@code Console.isTerminal()} tells.
   */
  private static boolean stderrIsTerminal() {
    Console console = System.console();
    if (console == null) {
      return false;
    }
    try {
      Method isTerminal = Console.class.getMethod("isTerminal");
      return (Boolean) isTerminal.invoke(console);
    } catch (NoSuchMethodException e) {
      return true; // JDK 17-21: a console exists only for a terminal
    } catch (ReflectiveOperationException e) {
      return false;
    }
  }

  /** What each worker did, and the pool's totals. */
  static void printInsights(PoolStats stats, Instant seen) {
    System.out.println();
    System.out.printf(Locale.ROOT, "%-7s %8s %7s %7s %9s %7s  %s%n",
        "worker", "pid", "tasks", "failed", "busy", "busy %", "state");
    int i = 0;
    for (WorkerStats w : stats.workers()) {
      i++;
      System.out.printf(Locale.ROOT, "%-7d %8s %7d %7d %7.2f s %6.1f%%  %s%n",
          i, w.pid() < 0 ? "-" : Long.toString(w.pid()), w.tasksCompleted(), w.tasksFailed(),
          w.busy().toNanos() / 1e9, 100 * w.busyFraction(seen), w.state().name().toLowerCase(Locale.ROOT));
    }
    long withOutcome = stats.completed() + stats.failed();
    System.out.printf(Locale.ROOT,
        "pool: %d tasks submitted, %d completed, %d failed, %d cancelled; %d workers started, %d lost%n",
        stats.submitted(), stats.completed(), stats.failed(), stats.cancelled(), stats.workersStarted(),
        stats.workersLost());
    System.out.printf(Locale.ROOT, "per task: %.2f ms running, %.2f ms waiting; %.1f KiB sent, %.1f KiB received%n",
        withOutcome == 0 ? 0.0 : stats.runTime().toNanos() / 1e6 / withOutcome,
        withOutcome == 0 ? 0.0 : stats.waitTime().toNanos() / 1e6 / withOutcome,
        stats.bytesSent() / 1024.0, stats.bytesReceived() / 1024.0);
  }

  /**
   * Entry point.
   *
   * @param args {@code [transport [items]]}, default {@code pipes} and {@value #DEFAULT_ITEMS}
   */
  public static void main(String[] args) {
    run(args.length > 0 ? args[0] : "pipes", args.length > 1 ? Integer.parseInt(args[1]) : DEFAULT_ITEMS);
  }
}
