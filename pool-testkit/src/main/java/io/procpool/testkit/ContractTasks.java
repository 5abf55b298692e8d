package io.procpool.testkit;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The task bodies of the contract suite, as static methods for method references and lambdas. They run
 * in the workers (worker JVMs have the test JVM's classpath), so they share nothing with the test but
 * what they are given and the file system: files are how a test observes a task from outside
 * (that it started, its pid) and controls it (a "release" file it waits for). Paths travel as
 * {@code String}s because {@link Path} is not serializable.
 *
 * <p>Beware of generic methods such as {@link #identity}: javac's {@code $deserializeLambda$} tells
 * serializable method references apart by method and interface, not by their type arguments, so
 * {@code ContractTasks::identity} used as a {@code Function<Integer, Integer>} and as a
 * {@code Function<Map, Map>} in the same class can deserialize as each other and fail with a
 * {@code ClassCastException} in the worker. Use one instantiation per class, or a lambda.
 */
public final class ContractTasks {
  private ContractTasks() {}

  /** The pid of the JVM the task runs in. */
  public static long pid() {
    return ProcessHandle.current().pid();
  }

  /** Returns its argument: the no-op task. */
  public static <T> T identity(T value) {
    return value;
  }

  /** Sleeps {@code millis} (simulated work), then returns {@code value}. */
  public static <T> T sleepThenReturn(long millis, T value) throws InterruptedException {
    Thread.sleep(millis);
    return value;
  }

  /**
   * Sleeps {@code millis} and returns {@code [pid, startMillis, endMillis]}, with wall-clock times
   * ({@link System#currentTimeMillis()}: unlike {@code nanoTime}, comparable across JVMs).
   */
  public static long[] timedSleep(long millis) throws InterruptedException {
    long start = System.currentTimeMillis();
    Thread.sleep(millis);
    return new long[] {pid(), start, System.currentTimeMillis()};
  }

  /** Throws a {@link ContractFailure}, which survives serialization. */
  public static <T> T fail(String message) throws ContractFailure {
    throw new ContractFailure(message);
  }

  /** Throws a {@link NotSerializableFailure}, which must come back as a {@code RemoteException}. */
  public static <T> T failNotSerializable(String message) {
    throw new NotSerializableFailure(message);
  }

  /** Exits the worker JVM with {@code status}; never returns. */
  public static <T> T exit(int status) {
    System.exit(status);
    throw new AssertionError("System.exit returned");
  }

  /** Returns an object that cannot be serialized. */
  public static Object notSerializableResult() {
    return new NotSerializableValue();
  }

  /** The {@code i}th line {@link #printLines} prints. */
  public static String outputLine(String token, int i) {
    return "contract-output " + token + " line " + i;
  }

  /** Prints {@code count} numbered lines to {@code System.out}, flushes, and returns {@code count}. */
  public static int printLines(String token, int count) {
    PrintStream out = System.out;
    for (int i = 0; i < count; i++) {
      out.println(outputLine(token, i));
    }
    out.flush();
    return count;
  }

  /**
   * Logs the records of the log-record contract, all with {@code token} in their text: through
   * {@code System.Logger} and {@code java.util.logging} under {@code loud} (set to log every level),
   * one record with a serializable exception (and a cause), one with a {@link NotSerializableFailure},
   * an INFO and a DEBUG record under {@code quiet} (left at the worker's default threshold), and last
   * an INFO record between a partial line and the rest of that line on {@code System.out}. Returns
   * {@code "PID THREAD"}: the worker's pid and the name of the thread that logged.
   */
  public static String logRecords(String loud, String quiet, String token) {
    java.util.logging.Logger jul = java.util.logging.Logger.getLogger(loud);
    jul.setLevel(java.util.logging.Level.ALL);
    System.Logger sys = System.getLogger(loud);
    sys.log(System.Logger.Level.INFO, "sys info {0} of {1} " + token, 1, 2);
    jul.log(java.util.logging.Level.SEVERE, "jul severe " + token,
        new IllegalStateException("boom " + token, new IOException("root cause " + token)));
    jul.log(java.util.logging.Level.WARNING, "jul warning " + token, new NotSerializableFailure("unserializable " + token));
    jul.config("jul config " + token);
    jul.fine("jul fine " + token);
    jul.finest("jul finest " + token);
    System.Logger q = System.getLogger(quiet);
    q.log(System.Logger.Level.DEBUG, "quiet debug " + token);
    q.log(System.Logger.Level.INFO, "quiet info " + token);
    System.out.print("before " + token + " ");
    jul.info("middle " + token);
    System.out.println("after " + token);
    return pid() + " " + Thread.currentThread().getName();
  }

  /** Creates the file {@code path} (the task's observable side effect); returns {@code true}. */
  public static boolean touch(String path) throws IOException {
    Files.writeString(Path.of(path), "touched", StandardCharsets.UTF_8);
    return true;
  }

  /**
   * Writes this worker's pid to {@code marker} (atomically: the file appears complete), then sleeps
   * {@code millis}; returns the pid. The test waits for the marker to know the task is running.
   */
  public static long markStartedThenSleep(String marker, long millis) throws Exception {
    writePid(marker);
    Thread.sleep(millis);
    return pid();
  }

  /**
   * Writes this worker's pid to {@code marker}, then waits (polling) until the file {@code release}
   * exists, at most {@code maxMillis}; returns the pid. A task whose end the test controls.
   */
  public static long markStartedThenAwait(String marker, String release, long maxMillis) throws Exception {
    writePid(marker);
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(maxMillis);
    while (!Files.exists(Path.of(release))) {
      if (System.nanoTime() > deadline) {
        throw new ContractFailure("release file " + release + " did not appear within " + maxMillis + " ms");
      }
      Thread.sleep(10);
    }
    return pid();
  }

  private static void writePid(String marker) throws IOException {
    Path target = Path.of(marker);
    Path temp = target.resolveSibling(target.getFileName() + ".tmp");
    Files.writeString(temp, Long.toString(pid()), StandardCharsets.UTF_8);
    Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE);
  }

  // ------------------------------------------------------------------ initializer probes

  private static final Map<String, AtomicInteger> INIT_COUNTS = new ConcurrentHashMap<>();

  /** An initializer: counts its runs under {@code token} in this JVM. */
  public static void initialize(String token) {
    INIT_COUNTS.computeIfAbsent(token, t -> new AtomicInteger()).incrementAndGet();
  }

  /** How often {@link #initialize} ran with {@code token} in this JVM. */
  public static int initCount(String token) {
    AtomicInteger count = INIT_COUNTS.get(token);
    return count == null ? 0 : count.get();
  }

  /** A task returning {@code [pid, initCount(token)]}. */
  public static long[] initProbe(String token) {
    return new long[] {pid(), initCount(token)};
  }

  // ------------------------------------------------------------------ exception and value types

  /** A checked exception thrown by tasks; serializable, so it is rebuilt in the parent as itself. */
  public static final class ContractFailure extends Exception {
    private static final long serialVersionUID = 1L;

    public ContractFailure(String message) {
      super(message);
    }
  }

  /**
   * An exception that cannot be serialized (it holds a non-serializable field), so the parent cannot
   * rebuild it and must report it as a {@code RemoteException} with this class's name.
   */
  public static final class NotSerializableFailure extends RuntimeException {
    private static final long serialVersionUID = 1L;

    @SuppressWarnings("unused") // its presence is the point
    private final Object notSerializable = new Object();

    public NotSerializableFailure(String message) {
      super(message);
    }
  }

  /** A value that cannot be serialized. */
  public static final class NotSerializableValue {
    @Override
    public String toString() {
      return "NotSerializableValue";
    }
  }
}
