package io.procpool.testkit;

import io.procpool.api.SerializableFunction;
import io.procpool.testkit.ContractTasks.ContractFailure;
import java.io.IOException;
import java.io.ObjectInputStream;
import java.io.Serializable;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.TimeUnit;

/**
 * Task bodies and value types of {@link AbstractSchedulingContractTest}, as static methods and small
 * classes that worker JVMs can load (they have the test JVM's classpath). Like
 * {@link ContractTasks}, they communicate with the test only through their arguments, their results
 * and files; every wait is bounded so that no worker waits forever.
 */
public final class SchedulingTasks {
  private SchedulingTasks() {}

  /**
   * Waits (polling) until the file {@code path} exists, at most {@code maxMillis}; returns how long it
   * waited, in milliseconds. Throws a {@link ContractFailure} if the file did not appear in time.
   */
  public static long awaitFile(String path, long maxMillis) throws Exception {
    long start = System.nanoTime();
    long deadline = start + TimeUnit.MILLISECONDS.toNanos(maxMillis);
    while (!Files.exists(Path.of(path))) {
      if (System.nanoTime() > deadline) {
        throw new ContractFailure("file " + path + " did not appear within " + maxMillis + " ms");
      }
      Thread.sleep(5);
    }
    return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
  }

  /** Sleeps {@code delayMillis}, then exits the worker JVM with {@code status}; never returns. */
  /**
   * One function for several kinds of work, so that the pool learns its run time from quick calls and
   * then pipelines calls that block: {@code {"noop"}}, {@code {"await", path}} (waits for the file,
   * at most a minute), {@code {"touch", path}}, {@code {"sleep", millis}}.
   */
  public static String act(String[] action) throws Exception {
    switch (action[0]) {
      case "noop":
        return "noop";
      case "await":
        awaitFile(action[1], 60_000);
        return "awaited";
      case "touch":
        ContractTasks.touch(action[1]);
        return "touched";
      case "sleep":
        Thread.sleep(Long.parseLong(action[1]));
        return "slept";
      default:
        throw new IllegalArgumentException("unknown action " + action[0]);
    }
  }

  public static <T> T exitAfter(long delayMillis, int status) throws InterruptedException {
    Thread.sleep(delayMillis);
    return ContractTasks.exit(status);
  }

  /** Fills a new array of {@code size} bytes with a fixed, position-dependent pattern. */
  public static byte[] pattern(int size) {
    byte[] data = new byte[size];
    for (int i = 0; i < size; i++) {
      data[i] = (byte) (i * 31 + (i >>> 11));
    }
    return data;
  }

  /** {@code [length, sum of the bytes]}: a small result that proves the whole array arrived. */
  public static long[] checksum(byte[] data) {
    long sum = 0;
    for (byte b : data) {
      sum += b;
    }
    return new long[] {data.length, sum};
  }

  /**
   * Waits (polling, at most {@code maxMillis}) until the file {@code go} exists, then returns
   * {@link #checksum(byte[]) checksum(data)}: a task whose start the test holds back until it has
   * submitted everything it wants queued.
   */
  public static long[] checksumOnceFileExists(String go, byte[] data, long maxMillis) throws Exception {
    awaitFile(go, maxMillis);
    return checksum(data);
  }

  /** Appends {@code line} and a newline to {@code file} (created if needed). */
  public static void appendLine(String file, String line) throws IOException {
    synchronized (SchedulingTasks.class) { // in-JVM workers share this JVM
      Files.writeString(Path.of(file), line + "\n", StandardCharsets.UTF_8,
          StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    }
  }

  /** An initializer that records its run ({@code "init <pid>"}) in {@code log}. */
  public static void recordInit(String log) throws IOException {
    appendLine(log, "init " + ContractTasks.pid());
  }

  /**
   * An initializer that fails while the file {@code failFile} exists, and works otherwise; it records
   * each run as {@code "fail <pid>"} or {@code "ok <pid>"} in {@code log}.
   */
  public static void initUnlessFailFile(String failFile, String log) throws Exception {
    if (Files.exists(Path.of(failFile))) {
      appendLine(log, "fail " + ContractTasks.pid());
      throw new ContractFailure("initializer fails while " + failFile + " exists");
    }
    appendLine(log, "ok " + ContractTasks.pid());
  }

  /** Returns a value whose decoding throws the {@link Error} named by {@code kind}; see {@link ExplodingValue}. */
  public static ExplodingValue explodingResult(String kind) {
    return new ExplodingValue(kind);
  }

  /**
   * A function object with mutable state: the pool must run it as it is when a task is submitted,
   * not as it was when the pool first saw this instance.
   */
  public static final class Adder implements SerializableFunction<Integer, Integer> {
    private static final long serialVersionUID = 1L;

    public int base;

    public Adder(int base) {
      this.base = base;
    }

    @Override
    public Integer apply(Integer x) {
      return base + x;
    }
  }

  /**
   * A value that serializes fine (in the worker) but whose deserialization throws an {@link Error}:
   * {@code "NoClassDefFoundError"} or {@code "ExceptionInInitializerError"}, as when a class cannot be
   * loaded or initialized in the parent JVM. A task result is decoded only in the parent, so this
   * happens there and only there, with every transport (the in-JVM one included).
   */
  public static final class ExplodingValue implements Serializable {
    private static final long serialVersionUID = 1L;

    private final String kind;

    ExplodingValue(String kind) {
      this.kind = kind;
    }

    private void readObject(ObjectInputStream in) throws IOException, ClassNotFoundException {
      in.defaultReadObject();
      if ("ExceptionInInitializerError".equals(kind)) {
        throw new ExceptionInInitializerError(
            new IllegalStateException("contract test: class initialization fails in the parent"));
      }
      throw new NoClassDefFoundError("contract test: class cannot be loaded in the parent");
    }

    @Override
    public String toString() {
      return "ExplodingValue[" + kind + "]";
    }
  }
}
