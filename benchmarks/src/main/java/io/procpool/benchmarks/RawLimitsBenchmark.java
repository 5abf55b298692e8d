package io.procpool.benchmarks;

import java.io.IOException;
import java.io.InputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The machine's own IPC limits between this JVM and a child JVM, with no procpool code on either side:
 * the child is {@link RawLimitsChild}, started like a worker (this JVM's {@code java}, the same
 * classpath, the serial collector), connected over a UNIX-domain socket ({@code
 * UnixDomainSocketAddress}, blocking NIO channels, direct buffers).
 *
 * <ul>
 *   <li>{@code pingPong}: 8 bytes there and back, one {@code write} and one read each way; µs per round
 *       trip, sampled ({@code Mode.SampleTime}: the score is the mean, the JSON's {@code
 *       scorePercentiles["50.0"]} the median). The limit for {@code apply}.
 *   <li>{@code pipelined}: {@value #MESSAGES} 64-byte messages sent one {@code write} each, echoed by
 *       the child one {@code write} each, at most {@value #WINDOW} in flight; messages (round trips)
 *       per second. The limit for {@code applyAsync} and {@code imapUnordered} in {@code compare.py}:
 *       the cost of one system call per message on each side.
 *   <li>{@code pipelinedCoalesced}: the same messages, but {@value #PER_WRITE} to a {@code write} from
 *       the parent, and the child writes back every complete message one read brought in a single
 *       {@code write}: what a transport that batches its writes can reach. Not in {@code compare.py}'s
 *       table.
 *   <li>{@code bulkEcho}: {@code size} bytes to the child, which reads them completely and then writes
 *       them back (store and forward, like a task that receives and returns a {@code byte[]}); ms per
 *       echo ({@code compare.py} counts both directions: MB/s = 2 · size / 10⁶ / s). The limit for the
 *       echo rows.
 *   <li>{@code spawn}: {@code ProcessBuilder.start()} of a child JVM until the byte it writes on stdout
 *       as the first thing in {@code main} arrives; ms. The limit for pool start.
 * </ul>
 *
 * <pre>
 * java -jar benchmarks/target/benchmarks.jar RawLimitsBenchmark -rf json -rff raw.json
 * </pre>
 */
@BenchmarkMode(Mode.Throughput)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class RawLimitsBenchmark {
  static final int MESSAGES = 50_000;
  static final int WINDOW = 256;
  static final int PER_WRITE = 40; // divides MESSAGES

  /** A child JVM serving one protocol over a UNIX-domain socket. */
  abstract static class Connected {
    Process child;
    SocketChannel channel;
    private Path dir;

    void connect(char mode) throws IOException {
      dir = Files.createTempDirectory("procpool-raw-");
      Path socket = dir.resolve("s");
      try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
        server.bind(UnixDomainSocketAddress.of(socket));
        child = childJvm("serve", socket.toString()).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        channel = server.accept();
      }
      Files.deleteIfExists(socket);
      RawLimitsChild.writeFully(channel, ByteBuffer.wrap(new byte[] {(byte) mode}));
    }

    void close() throws IOException, InterruptedException {
      try {
        if (channel != null) {
          channel.close();
        }
        if (child != null && !child.waitFor(5, TimeUnit.SECONDS)) {
          throw new IllegalStateException("the raw-limit child did not exit within 5 s of end of stream");
        }
        if (child != null && child.exitValue() != 0) {
          throw new IllegalStateException("the raw-limit child exited with " + child.exitValue());
        }
        Files.deleteIfExists(dir);
      } finally {
        Pools.assertNoChildProcesses(Pools.CHILD_EXIT_WAIT);
      }
    }
  }

  @State(Scope.Benchmark)
  public static class PingPong extends Connected {
    final ByteBuffer out = ByteBuffer.allocateDirect(RawLimitsChild.PING_BYTES);
    final ByteBuffer in = ByteBuffer.allocateDirect(RawLimitsChild.PING_BYTES);

    @Setup(Level.Trial)
    public void start() throws IOException {
      connect('P');
    }

    @TearDown(Level.Trial)
    public void stop() throws IOException, InterruptedException {
      close();
    }
  }

  @State(Scope.Benchmark)
  public static class Stream extends Connected {
    final ByteBuffer message = ByteBuffer.allocateDirect(RawLimitsChild.MESSAGE_BYTES);
    final ByteBuffer in = ByteBuffer.allocateDirect(64 * 1024);

    @Setup(Level.Trial)
    public void start() throws IOException {
      connect('S');
    }

    @TearDown(Level.Trial)
    public void stop() throws IOException, InterruptedException {
      close();
    }
  }

  @State(Scope.Benchmark)
  public static class CoalescedStream extends Connected {
    final ByteBuffer batch = ByteBuffer.allocateDirect(PER_WRITE * RawLimitsChild.MESSAGE_BYTES);
    final ByteBuffer in = ByteBuffer.allocateDirect(64 * 1024);

    @Setup(Level.Trial)
    public void start() throws IOException {
      connect('C');
    }

    @TearDown(Level.Trial)
    public void stop() throws IOException, InterruptedException {
      close();
    }
  }

  @State(Scope.Benchmark)
  public static class Bulk extends Connected {
    /** 1 MiB and 16 MiB, as {@link EchoBenchmark}. */
    @Param({"1048576", "16777216"})
    public int size;

    ByteBuffer out;
    ByteBuffer in;

    @Setup(Level.Trial)
    public void start() throws IOException {
      byte[] payload = new byte[size];
      ThreadLocalRandom.current().nextBytes(payload);
      out = ByteBuffer.allocateDirect(size).put(payload);
      in = ByteBuffer.allocateDirect(size);
      connect('B');
      RawLimitsChild.writeFully(channel, ByteBuffer.allocate(4).putInt(0, size));
    }

    @TearDown(Level.Trial)
    public void stop() throws IOException, InterruptedException {
      close();
    }
  }

  @State(Scope.Benchmark)
  public static class Spawn {
    Process child;

    @TearDown(Level.Invocation)
    public void reap() throws InterruptedException {
      Process p = child;
      child = null;
      if (p != null && !p.waitFor(5, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new IllegalStateException("the spawned child did not exit within 5 s");
      }
    }

    @TearDown(Level.Trial)
    public void noneLeft() {
      Pools.assertNoChildProcesses(Pools.CHILD_EXIT_WAIT);
    }
  }

  @Benchmark
  @BenchmarkMode(Mode.SampleTime)
  @OutputTimeUnit(TimeUnit.MICROSECONDS)
  public ByteBuffer pingPong(PingPong s) throws IOException {
    s.out.clear();
    RawLimitsChild.writeFully(s.channel, s.out);
    s.in.clear();
    if (!RawLimitsChild.readFully(s.channel, s.in)) {
      throw new IOException("the child closed the connection");
    }
    return s.in;
  }

  @Benchmark
  @OutputTimeUnit(TimeUnit.SECONDS)
  @OperationsPerInvocation(MESSAGES)
  public long pipelined(Stream s) throws IOException {
    long expected = (long) MESSAGES * RawLimitsChild.MESSAGE_BYTES;
    long received = 0;
    for (int sent = 1; sent <= MESSAGES; sent++) {
      s.message.clear();
      RawLimitsChild.writeFully(s.channel, s.message);
      while (sent - received / RawLimitsChild.MESSAGE_BYTES >= WINDOW) {
        received += receive(s);
      }
    }
    while (received < expected) {
      received += receive(s);
    }
    return received;
  }

  @Benchmark
  @OutputTimeUnit(TimeUnit.SECONDS)
  @OperationsPerInvocation(MESSAGES)
  public long pipelinedCoalesced(CoalescedStream s) throws IOException {
    long expected = (long) MESSAGES * RawLimitsChild.MESSAGE_BYTES;
    long received = 0;
    for (int sent = PER_WRITE; sent <= MESSAGES; sent += PER_WRITE) {
      s.batch.clear();
      RawLimitsChild.writeFully(s.channel, s.batch);
      while (sent - received / RawLimitsChild.MESSAGE_BYTES >= WINDOW) {
        received += receive(s.channel, s.in);
      }
    }
    while (received < expected) {
      received += receive(s.channel, s.in);
    }
    return received;
  }

  private static int receive(Stream s) throws IOException {
    return receive(s.channel, s.in);
  }

  private static int receive(SocketChannel channel, ByteBuffer in) throws IOException {
    in.clear();
    int n = channel.read(in);
    if (n < 0) {
      throw new IOException("the child closed the connection");
    }
    return n;
  }

  @Benchmark
  @BenchmarkMode(Mode.AverageTime)
  @OutputTimeUnit(TimeUnit.MILLISECONDS)
  public ByteBuffer bulkEcho(Bulk s) throws IOException {
    s.out.clear();
    RawLimitsChild.writeFully(s.channel, s.out);
    s.in.clear();
    if (!RawLimitsChild.readFully(s.channel, s.in)) {
      throw new IOException("the child closed the connection");
    }
    return s.in;
  }

  @Benchmark
  @BenchmarkMode(Mode.SingleShotTime)
  @OutputTimeUnit(TimeUnit.MILLISECONDS)
  @Warmup(iterations = 3)
  @Measurement(iterations = 8)
  @Fork(3)
  public int spawn(Spawn s) throws IOException {
    s.child = childJvm("ready").redirectOutput(ProcessBuilder.Redirect.PIPE).start();
    InputStream out = s.child.getInputStream();
    int b = out.read();
    if (b != 1) {
      throw new IOException("the spawned child wrote " + b + " instead of 1");
    }
    return b;
  }

  /** This JVM's {@code java}, the options procpool gives a worker, this JVM's classpath. */
  static ProcessBuilder childJvm(String... args) {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.add("-Xlog:disable");
    cmd.add("-Xlog:all=warning:stderr");
    cmd.add("-XX:+ExitOnOutOfMemoryError");
    cmd.add("-XX:+UseSerialGC");
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add(RawLimitsChild.class.getName());
    cmd.addAll(List.of(args));
    return new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT);
  }
}
