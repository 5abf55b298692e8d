package io.procpool.reliability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.procpool.api.ManagedQueue;
import io.procpool.api.Manager;
import io.procpool.api.ProcessPool;
import io.procpool.reliability.WirePeers.PipesPeer;
import io.procpool.testkit.NoLeakedProcessesExtension;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Malformed input at every listening endpoint: the pool's pipes socket, the manager's pipes socket,
 * the pool's and the manager's gRPC ports. Each attack must end with a clear error on that connection
 * (a refusal status with a reason, a gRPC status, or the connection closed), the server must go on
 * serving (a task or a queue op after each attack), and the heap must stay bounded.
 */
@ExtendWith(NoLeakedProcessesExtension.class)
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class EndpointAbuseTest {
  /**
   * pool-core's worker protocol version (WorkerProtocol.VERSION), which a fake worker claims: a HELLO is
   * type, version, worker id, pid, launch id.
   */
  private static final int WORKER_PROTOCOL = 4;

  /** A HELLO of {@link #WORKER_PROTOCOL}'s format with no launch id (a worker not placed by a cluster). */
  private static byte[] hello(int version, int workerId, long pid) {
    return ByteBuffer.allocate(21).put((byte) 1).putInt(version).putInt(workerId).putLong(pid).putInt(-1).array();
  }
  static final Duration CLOSE_WAIT = Duration.ofSeconds(5);
  static final long HEAP_GROWTH_LIMIT = 64L << 20;

  final Random random = new Random(20261126);
  final ConcurrentLinkedQueue<String> warnings = new ConcurrentLinkedQueue<>();
  final Handler capture = new Handler() {
    @Override
    public void publish(LogRecord r) {
      if (r.getLevel().intValue() >= Level.WARNING.intValue() && r.getLoggerName() != null
          && r.getLoggerName().startsWith("io.procpool")) {
        warnings.add(r.getMessage());
      }
    }

    @Override
    public void flush() {}

    @Override
    public void close() {}
  };

  @BeforeEach
  void captureLogs() {
    Logger.getLogger("").addHandler(capture);
  }

  @AfterEach
  void releaseLogs() {
    Logger.getLogger("").removeHandler(capture);
  }

  /** The results of one endpoint's attacks. */
  final class Attacks {
    final String endpoint;
    final Runnable healthCheck;
    final List<String> failures = new ArrayList<>();
    final List<String> log = new ArrayList<>();
    int tried;
    int refused;
    int survived;

    Attacks(String endpoint, Runnable healthCheck) {
      this.endpoint = endpoint;
      this.healthCheck = healthCheck;
    }

    /** Records an attack's outcome ({@code clear}: the connection got a clear error) and checks the server. */
    void check(String attack, String outcome, boolean clear) {
      tried++;
      log.add(attack + " -> " + outcome);
      if (clear) {
        refused++;
      } else {
        failures.add(attack + ": no clear error on the connection: " + outcome);
      }
      try {
        healthCheck.run();
        survived++;
      } catch (RuntimeException | AssertionError e) {
        failures.add(attack + ": the server stopped serving: " + e);
      }
    }

    void finish(long heapBefore) {
      long growth = Rel.usedHeapAfterGc() - heapBefore;
      Rel.summary(String.format("abuse[%s]: %d attacks tried, %d got a clear error, %d survived (served after), "
          + "heap %+d KiB", endpoint, tried, refused, survived, growth >> 10));
      System.out.println("[reliability] abuse[" + endpoint + "] details:\n  " + String.join("\n  ", log));
      assertTrue(failures.isEmpty(), endpoint + ": " + failures);
      assertTrue(growth < HEAP_GROWTH_LIMIT, endpoint + ": heap grew by " + (growth >> 20) + " MiB");
    }
  }

  static byte[] key() {
    byte[] k = new byte[32];
    new java.security.SecureRandom().nextBytes(k);
    return k;
  }

  byte[] randomBytes(int n) {
    byte[] b = new byte[n];
    random.nextBytes(b);
    b[0] = 0x13; // never 'P': a bad magic for sure
    return b;
  }

  // ================================================================== pipes

  /** Attacks every pipes socket suffers alike (pool or manager). */
  void pipesCommonAttacks(Attacks a, String path, byte[] key) throws Exception {
    try (PipesPeer p = new PipesPeer(path)) {
      p.write(randomBytes(4096));
      byte[] hello = p.read(38, CLOSE_WAIT);
      String status = p.status();
      a.check("random bytes", status + "; " + p.awaitClose(CLOSE_WAIT),
          hello.length == 38 && status.startsWith("REFUSED(2)") && status.contains("magic"));
    }
    try (PipesPeer p = new PipesPeer(path)) {
      p.write(new byte[] {'P', 'P', 'I'});
      p.ch.shutdownOutput();
      String end = p.awaitClose(CLOSE_WAIT);
      a.check("truncated handshake", end, end.equals("EOF"));
    }
    try (PipesPeer p = new PipesPeer(path)) {
      p.write(ByteBuffer.allocate(38).putInt(0x47455420).putShort((short) 1).array()); // "GET "
      p.read(38, CLOSE_WAIT);
      String status = p.status();
      a.check("wrong magic", status, status.startsWith("REFUSED(2)") && status.contains("magic"));
    }
    try (PipesPeer p = new PipesPeer(path)) {
      String status = p.handshake(key, 99);
      a.check("wrong version", status, status.startsWith("REFUSED(2)") && status.contains("version 99"));
    }
    try (PipesPeer p = new PipesPeer(path)) {
      String status = p.handshake(key(), WirePeers.PIPES_VERSION);
      a.check("wrong auth key", status, status.startsWith("REFUSED(1)") && status.contains("key"));
    }
    for (long len : new long[] {0x80000000L, 0x7FFFFFFFL, 0xFFFFFFFFL}) {
      try (PipesPeer p = new PipesPeer(path)) {
        String status = p.handshake(key, WirePeers.PIPES_VERSION);
        p.write(ByteBuffer.allocate(4 + 16).putInt((int) len).array());
        String end = p.awaitClose(CLOSE_WAIT);
        a.check("valid key, frame length 0x" + Long.toHexString(len), status + "; " + end,
            status.equals("OK") && end.equals("EOF"));
      }
    }
    try (PipesPeer p = new PipesPeer(path)) {
      String status = p.handshake(key, WirePeers.PIPES_VERSION);
      p.write(ByteBuffer.allocate(4 + 10).putInt(100).array());
      p.ch.shutdownOutput();
      String end = p.awaitClose(CLOSE_WAIT);
      a.check("valid key, truncated frame", status + "; " + end, status.equals("OK") && end.equals("EOF"));
    }
    try (PipesPeer p = new PipesPeer(path)) {
      String status = p.handshake(key, WirePeers.PIPES_VERSION);
      p.writeFrame(new byte[0]);
      String end = p.awaitClose(CLOSE_WAIT);
      a.check("valid key, empty frame", status + "; " + end, status.equals("OK") && end.equals("EOF"));
    }
    // Flood: more idle unauthenticated connections than the server handshakes at once.
    List<PipesPeer> flood = new ArrayList<>();
    try {
      for (int i = 0; i < 100; i++) {
        flood.add(new PipesPeer(path));
      }
      a.check("100 idle unauthenticated connections", "held open during the health check", true);
    } finally {
      for (PipesPeer p : flood) {
        p.close();
      }
    }
  }

  @Test
  void pipesPoolSocket() throws Exception {
    byte[] key = key();
    try (ProcessPool pool = ProcessPool.builder().transport("pipes").processes(2).authKey(key).build()) {
      Rel.await(Duration.ofSeconds(60), () -> pool.workerPids().size() == 2);
      List<Long> workers = pool.workerPids();
      int[] n = {0};
      Attacks a = new Attacks("pipes-pool", () -> {
        int x = n[0]++;
        assertEquals(x + 1, (int) pool.apply((Integer i) -> i + 1, x));
      });
      a.healthCheck.run();
      long heap = Rel.usedHeapAfterGc();
      String path = pool.address();
      pipesCommonAttacks(a, path, key);

      // Fake workers: they complete the handshake, then send garbage or a bogus HELLO.
      byte[][] bogus = {
          randomBytes(200),
          {1}, // HELLO without its fields
          hello(99, 0, 4242), // wrong version
          hello(WORKER_PROTOCOL, 424242, 4242), // unknown worker id
          hello(WORKER_PROTOCOL, 0, 4242), // a real worker's id
          ByteBuffer.allocate(9).put((byte) 4).putLong(1).array(), // RESULT before HELLO
      };
      String[] names = {"garbage message", "truncated HELLO", "HELLO with version 99", "HELLO with unknown worker id",
          "HELLO impersonating worker 0", "RESULT before HELLO"};
      for (int i = 0; i < bogus.length; i++) {
        int before = warnings.size();
        try (PipesPeer p = new PipesPeer(path)) {
          String status = p.handshake(key, WirePeers.PIPES_VERSION);
          p.writeFrame(bogus[i]);
          String end = p.awaitClose(CLOSE_WAIT);
          boolean logged = Rel.await(CLOSE_WAIT, () -> warnings.stream().skip(before).anyMatch(w -> w.contains("protocol error")));
          a.check("fake worker: " + names[i], status + "; " + end + "; logged: " + lastWarning(before),
              status.equals("OK") && end.equals("EOF") && logged);
        }
      }
      // An external worker (id -1) joins, receives INIT, then sends garbage: dropped, the pool goes on.
      int before = warnings.size();
      try (PipesPeer p = new PipesPeer(path)) {
        String status = p.handshake(key, WirePeers.PIPES_VERSION);
        p.writeFrame(hello(WORKER_PROTOCOL, -1, 4243));
        byte[] init = p.read(5, CLOSE_WAIT);
        p.writeFrame(new byte[] {99, 1, 2, 3});
        String end = p.awaitClose(CLOSE_WAIT);
        boolean logged = Rel.await(CLOSE_WAIT, () -> warnings.stream().skip(before).anyMatch(w -> w.contains("protocol error")));
        a.check("external worker joins then sends garbage", status + "; INIT " + (init.length == 5 ? "received" : "missing")
            + "; " + end + "; logged: " + lastWarning(before), status.equals("OK") && end.equals("EOF") && logged);
      }
      pipesSpoofedServerAttacks(a, key, true);
      pipesInterruptStormOnAPool(a, pool);
      assertTrue(Rel.await(Duration.ofSeconds(30), () -> new HashSet<>(pool.workerPids()).equals(new HashSet<>(workers))),
          "the real workers changed: " + workers + " -> " + pool.workerPids());
      pipesHandshakeSlotFloodOnAPool(a);
      a.finish(heap);
    }
  }

  private String lastWarning(int before) {
    return warnings.stream().skip(before).reduce((x, y) -> y).orElse("(nothing)");
  }

  @Test
  void pipesManagerSocket() throws Exception {
    try (Manager manager = Manager.builder().transport("pipes").build()) {
      ManagedQueue<Integer> q = manager.queue("abuse");
      int[] n = {0};
      Attacks a = new Attacks("pipes-manager", () -> queueRoundTrip(q, n[0]++));
      a.healthCheck.run();
      long heap = Rel.usedHeapAfterGc();
      String path = manager.address().substring("pipes:".length());
      byte[] key = manager.authKey();
      pipesCommonAttacks(a, path, key);
      // Authenticated garbage requests: answered with an error, or the connection closed.
      String[] names = {"garbage request", "unknown op 99", "PUT to a queue that does not exist", "request of 1 byte"};
      byte[][] requests = {randomBytes(300),
          ByteBuffer.allocate(9).put((byte) 99).putLong(7).array(),
          ByteBuffer.allocate(9 + 16 + 3).put((byte) 2).putLong(8).putLong(123456).putLong(0).array(),
          {3}};
      for (int i = 0; i < requests.length; i++) {
        try (PipesPeer p = new PipesPeer(path)) {
          String status = p.handshake(key, WirePeers.PIPES_VERSION);
          p.writeFrame(requests[i]);
          byte[] len = p.read(4, CLOSE_WAIT);
          String outcome;
          boolean clear;
          if (len.length == 4) {
            int size = ByteBuffer.wrap(len).getInt();
            byte[] answer = p.read(Math.min(size, 4096), CLOSE_WAIT);
            byte st = answer.length > 8 ? answer[8] : -1;
            outcome = "answered status " + st + ": " + new String(answer, Math.min(9, answer.length),
                Math.max(0, answer.length - 9), StandardCharsets.UTF_8);
            clear = st != 0 && st != -1;
          } else {
            outcome = p.awaitClose(CLOSE_WAIT);
            clear = outcome.equals("EOF");
          }
          a.check("valid key, " + names[i], status + "; " + outcome, status.equals("OK") && clear);
        }
      }
      pipesSpoofedServerAttacks(a, key, false);
      pipesHandshakeSlotFloodOnAManager(a, manager.address(), key);
      pipesInterruptStormOnAManagerQueue(a, manager);
      a.finish(heap);
    }
  }

  // ============================================================ pipes: issue 10 (mutual auth, flood, interrupts)

  /** The text of a throwable and its causes, for matching a reason wherever it was wrapped. */
  static String chain(Throwable t) {
    StringBuilder sb = new StringBuilder();
    for (Throwable c = t; c != null && sb.length() < 2000; c = c.getCause()) {
      sb.append(sb.length() == 0 ? "" : " <- ").append(c);
    }
    return sb.toString();
  }

  /**
   * Real clients pointed at a spoofed pipes endpoint, one that speaks the handshake but does not know
   * the key: a manager client and a worker must refuse it (mutual authentication) before they read
   * the frame it sends. {@code worker}: also start a worker JVM against it.
   */
  void pipesSpoofedServerAttacks(Attacks a, byte[] key, boolean worker) throws Exception {
    java.nio.file.Path dir = java.nio.file.Files.createTempDirectory("procpool-spoof-");
    byte[] frame = randomBytes(64);
    try (WirePeers.SpoofedPipesServer spoof = new WirePeers.SpoofedPipesServer(dir.resolve("spoof.sock"), frame)) {
      String outcome;
      boolean clear;
      try (Manager m = Manager.connect("pipes", spoof.path.toString(), key)) {
        outcome = "connected to " + m.address();
        clear = false;
      } catch (RuntimeException e) {
        outcome = chain(e);
        clear = outcome.contains("mutual authentication failed");
      }
      a.check("spoofed pipes server: a manager client connects to it", outcome, clear);
      if (worker) {
        ProcessBuilder pb = new ProcessBuilder(
            java.nio.file.Path.of(System.getProperty("java.home"), "bin", "java").toString(),
            "-cp", System.getProperty("java.class.path"),
            "io.procpool.core.WorkerMain", "--transport", "pipes", "--connect", spoof.path.toString());
        pb.environment().put("PROCPOOL_AUTH_KEY", java.util.Base64.getEncoder().encodeToString(key));
        pb.redirectErrorStream(true);
        Process p = pb.start();
        try {
          boolean exited = p.waitFor(60, TimeUnit.SECONDS);
          String out = exited ? new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip() : "";
          outcome = exited ? "exit " + p.exitValue() + ": " + out : "still running after 60 s";
          clear = exited && p.exitValue() != 0 && out.contains("mutual authentication failed");
        } finally {
          p.destroyForcibly();
          p.waitFor(30, TimeUnit.SECONDS);
        }
        a.check("spoofed pipes server: a worker JVM connects to it", outcome, clear);
      }
    } finally {
      java.nio.file.Files.deleteIfExists(dir);
    }
  }

  /** Holds {@code n} silent (unauthenticated) connections to {@code path}; each has got the server's hello. */
  static List<PipesPeer> silentConnections(String path, int n) throws Exception {
    List<PipesPeer> flood = new ArrayList<>();
    try {
      for (int i = 0; i < n; i++) {
        flood.add(new PipesPeer(path));
      }
      return flood;
    } catch (Exception | Error e) {
      for (PipesPeer p : flood) {
        p.close();
      }
      throw e;
    }
  }

  /**
   * Handshake-slot flood on a pool that must start new workers meanwhile: every task needs a fresh
   * worker ({@code maxTasksPerChild(1)}), whose connection arrives behind 100 silent ones.
   */
  void pipesHandshakeSlotFloodOnAPool(Attacks a) throws Exception {
    byte[] key = key();
    try (ProcessPool fresh = ProcessPool.builder().transport("pipes").processes(1).maxTasksPerChild(1)
        .authKey(key).build()) {
      Rel.await(Duration.ofSeconds(60), () -> fresh.workerPids().size() == 1);
      List<PipesPeer> flood = silentConnections(fresh.address(), 100);
      String outcome;
      boolean clear;
      long start = System.nanoTime();
      try {
        int sum = 0;
        for (int i = 0; i < 3; i++) {
          sum += fresh.applyAsync((Integer x) -> x + 1, i).get(8, TimeUnit.SECONDS);
        }
        long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        outcome = "3 tasks, each on a new worker, done in " + ms + " ms behind 100 silent connections";
        clear = sum == 6;
      } catch (Exception e) {
        outcome = chain(e);
        clear = false;
      } finally {
        for (PipesPeer p : flood) {
          p.close();
        }
      }
      a.check("handshake-slot flood: 100 silent connections while the pool starts new workers", outcome, clear);
    }
  }

  /**
   * Handshake-slot flood on a manager: a new connection (as from a new process; this JVM's manager
   * client shares one connection, so the transport is used directly) still gets in at once.
   */
  void pipesHandshakeSlotFloodOnAManager(Attacks a, String address, byte[] key) throws Exception {
    String path = address.substring("pipes:".length());
    List<PipesPeer> flood = silentConnections(path, 100);
    String outcome;
    boolean clear;
    long start = System.nanoTime();
    try {
      io.procpool.api.spi.Connection c = io.procpool.api.spi.TransportRegistry.get("pipes").connect(path,
          new io.procpool.api.spi.TransportOptions(key, io.procpool.api.spi.TransportOptions.DEFAULT_MAX_FRAME_SIZE,
              null, java.util.Map.of()));
      c.close();
      long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
      outcome = "a new connection was authenticated in " + ms + " ms behind 100 silent connections";
      clear = ms < 5000;
    } catch (Exception e) {
      outcome = chain(e);
      clear = false;
    } finally {
      for (PipesPeer p : flood) {
        p.close();
      }
    }
    a.check("handshake-slot flood: 100 silent connections, then a new manager client", outcome, clear);
  }

  /**
   * A caller doing big applies is interrupted over and over while other callers run small tasks:
   * the interrupted caller gets the documented interrupt failure, nobody else fails, no worker dies.
   */
  void pipesInterruptStormOnAPool(Attacks a, ProcessPool pool) throws Exception {
    byte[] big = new byte[16 << 20];
    ConcurrentLinkedQueue<String> wrong = new ConcurrentLinkedQueue<>();
    java.util.concurrent.atomic.AtomicInteger interrupted = new java.util.concurrent.atomic.AtomicInteger();
    java.util.concurrent.atomic.AtomicInteger small = new java.util.concurrent.atomic.AtomicInteger();
    Thread caller = new Thread(() -> {
      for (int i = 0; i < 30 && (i < 8 || interrupted.get() < 4); i++) {
        try {
          int n = pool.apply((byte[] b) -> b.length, big);
          if (n != big.length) {
            wrong.add("big apply returned " + n);
          }
        } catch (io.procpool.api.ProcPoolException e) {
          if (Thread.currentThread().isInterrupted() && !(e instanceof io.procpool.api.WorkerCrashedException)) {
            interrupted.incrementAndGet();
          } else {
            wrong.add(chain(e));
          }
        }
        Thread.interrupted();
      }
    }, "abuse-big-caller");
    caller.setDaemon(true);
    Thread interrupter = new Thread(() -> {
      while (caller.getState() == Thread.State.NEW || caller.isAlive()) {
        caller.interrupt();
        java.util.concurrent.locks.LockSupport.parkNanos(2_000_000); // pacing
      }
    }, "abuse-interrupter");
    interrupter.setDaemon(true);
    interrupter.start();
    caller.start();
    try {
      for (int i = 0; caller.isAlive() || i < 10; i++) {
        int x = i;
        if (pool.apply((Integer v) -> v * 3, x) != 3 * x) {
          wrong.add("small apply returned a wrong result");
        }
        small.incrementAndGet();
      }
    } catch (RuntimeException e) {
      wrong.add("a small apply of another caller failed: " + chain(e));
    }
    caller.join(TimeUnit.SECONDS.toMillis(60));
    interrupter.join(TimeUnit.SECONDS.toMillis(10));
    a.check("interrupt storm on a caller's 16 MiB applies", interrupted.get() + " applies interrupted, " + small.get()
        + " small ones of another caller done; wrong: " + wrong, wrong.isEmpty() && interrupted.get() > 0
        && !caller.isAlive());
  }

  /**
   * A thread putting 8 MiB items on a manager queue is interrupted over and over while another thread
   * of the same JVM (same manager connection) does round trips on another queue.
   */
  void pipesInterruptStormOnAManagerQueue(Attacks a, Manager manager) throws Exception {
    ManagedQueue<byte[]> bigQ = manager.queue("abuse-interrupt-big");
    ManagedQueue<Integer> smallQ = manager.queue("abuse-interrupt-small");
    byte[] item = new byte[8 << 20];
    ConcurrentLinkedQueue<String> wrong = new ConcurrentLinkedQueue<>();
    java.util.concurrent.atomic.AtomicInteger interrupted = new java.util.concurrent.atomic.AtomicInteger();
    java.util.concurrent.atomic.AtomicInteger put = new java.util.concurrent.atomic.AtomicInteger();
    java.util.concurrent.atomic.AtomicInteger flagged = new java.util.concurrent.atomic.AtomicInteger();
    Thread putter = new Thread(() -> {
      for (int i = 0; i < 30 && (i < 8 || interrupted.get() + flagged.get() < 4); i++) {
        try {
          bigQ.put(item);
          put.incrementAndGet();
          if (Thread.currentThread().isInterrupted()) {
            flagged.incrementAndGet(); // interrupted during the put, which went through
          }
        } catch (RuntimeException e) {
          if (Thread.currentThread().isInterrupted() && !(e instanceof io.procpool.api.ManagerUnreachableException)) {
            interrupted.incrementAndGet(); // the put was withdrawn with an interrupt-style failure
          } else {
            wrong.add(chain(e));
          }
        }
        Thread.interrupted();
        try {
          while (bigQ.getNowait() != null) {
            // keep the queue (and the manager's heap) small
          }
        } catch (io.procpool.api.QueueEmptyException e) {
          // drained
        } catch (RuntimeException e) {
          if (!Thread.interrupted()) {
            wrong.add("drain: " + chain(e));
          }
        }
      }
    }, "abuse-big-putter");
    putter.setDaemon(true);
    Thread interrupter = new Thread(() -> {
      while (putter.getState() == Thread.State.NEW || putter.isAlive()) {
        putter.interrupt();
        java.util.concurrent.locks.LockSupport.parkNanos(2_000_000); // pacing
      }
    }, "abuse-interrupter");
    interrupter.setDaemon(true);
    interrupter.start();
    putter.start();
    int rounds = 0;
    try {
      for (; putter.isAlive() || rounds < 10; rounds++) {
        queueRoundTrip(smallQ, rounds);
      }
    } catch (RuntimeException | AssertionError e) {
      wrong.add("another thread's queue round trip failed: " + chain(e));
    }
    putter.join(TimeUnit.SECONDS.toMillis(60));
    interrupter.join(TimeUnit.SECONDS.toMillis(10));
    a.check("interrupt storm on a thread's 8 MiB queue puts", put.get() + " puts done (" + flagged.get()
        + " of them interrupted meanwhile), " + interrupted.get() + " withdrawn on interrupt, " + rounds
        + " round trips of another thread; wrong: " + wrong,
        wrong.isEmpty() && !putter.isAlive() && flagged.get() + interrupted.get() > 0);
  }

  static void queueRoundTrip(ManagedQueue<Integer> q, int x) {
    q.put(x);
    assertEquals(x, q.get(Duration.ofSeconds(10)));
  }

  // ================================================================== grpc

  void grpcCommonAttacks(Attacks a, String hostPort, byte[] key, byte[] garbageMessage, boolean answeredIsClear)
      throws Exception {
    String end = WirePeers.rawTcp(hostPort, randomBytes(4096), CLOSE_WAIT);
    a.check("raw TCP: random bytes", end, end.startsWith("EOF"));
    byte[] preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
    byte[] prefaceThenGarbage = new byte[preface.length + 1000];
    System.arraycopy(preface, 0, prefaceThenGarbage, 0, preface.length);
    System.arraycopy(randomBytes(1000), 0, prefaceThenGarbage, preface.length, 1000);
    end = WirePeers.rawTcp(hostPort, prefaceThenGarbage, CLOSE_WAIT);
    a.check("raw TCP: HTTP/2 preface then garbage frames", end, end.startsWith("EOF"));
    end = WirePeers.rawTcp(hostPort, "GET / HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII), CLOSE_WAIT);
    a.check("raw TCP: HTTP/1.1 request", end, end.startsWith("EOF"));

    String v = WirePeers.GRPC_PROTOCOL;
    String s = WirePeers.grpcCall(hostPort, null, v, CLOSE_WAIT, WirePeers.frames(new byte[] {1}));
    a.check("gRPC without auth proof", s, s.startsWith("UNAUTHENTICATED"));
    s = WirePeers.grpcCall(hostPort, key(), v, CLOSE_WAIT, WirePeers.frames(new byte[] {1}));
    a.check("gRPC with wrong auth key", s, s.startsWith("UNAUTHENTICATED"));
    s = WirePeers.grpcCall(hostPort, key, "99", CLOSE_WAIT, WirePeers.frames(new byte[] {1}));
    a.check("gRPC with wrong protocol version", s, s.startsWith("FAILED_PRECONDITION"));
    s = WirePeers.grpcCall(hostPort, key, "1", CLOSE_WAIT, WirePeers.frames(new byte[] {1}));
    a.check("gRPC protocol version 1 (raw key in headers)", s, s.startsWith("FAILED_PRECONDITION"));
    s = WirePeers.grpcCall(hostPort, key, v, CLOSE_WAIT, randomBytes(500));
    a.check("valid key, a message that is not protobuf", s, !s.startsWith("open") && !s.startsWith("OK"));
    s = WirePeers.grpcCall(hostPort, key, v, CLOSE_WAIT, WirePeers.frames(garbageMessage));
    a.check("valid key, Frames with a garbage message", s,
        (!s.startsWith("open") && !s.startsWith("OK")) || (answeredIsClear && !s.equals("open after 1 answers")));
    for (long len : new long[] {0x80000000L, 0x7FFFFFFFL}) {
      s = WirePeers.http2LengthBomb(hostPort, key, len, CLOSE_WAIT);
      a.check("handshake started, gRPC message length 0x" + Long.toHexString(len), s, !s.startsWith("no reaction"));
    }
  }

  @Test
  void grpcPoolPort() throws Exception {
    byte[] key = key();
    try (ProcessPool pool = ProcessPool.builder().transport("grpc").processes(2).authKey(key).build()) {
      Rel.await(Duration.ofSeconds(60), () -> pool.workerPids().size() == 2);
      List<Long> workers = pool.workerPids();
      int[] n = {0};
      Attacks a = new Attacks("grpc-pool", () -> {
        int x = n[0]++;
        assertEquals(x + 1, (int) pool.apply((Integer i) -> i + 1, x));
      });
      a.healthCheck.run();
      long heap = Rel.usedHeapAfterGc();
      grpcCommonAttacks(a, pool.address(), key, new byte[] {99, 1, 2, 3}, false);
      int before = warnings.size();
      String s = WirePeers.grpcCall(pool.address(), key, WirePeers.GRPC_PROTOCOL, CLOSE_WAIT,
          WirePeers.frames(hello(WORKER_PROTOCOL, 424242, 4242)));
      boolean logged = Rel.await(CLOSE_WAIT, () -> warnings.stream().skip(before).anyMatch(w -> w.contains("protocol error")));
      assertTrue(logged && !s.startsWith("open"), "fake gRPC worker not dropped: " + s);
      a.check("fake worker: HELLO with unknown worker id", s + "; logged: " + lastWarning(before),
          !s.startsWith("open") && !s.startsWith("OK") && logged);
      assertTrue(Rel.await(Duration.ofSeconds(30), () -> new HashSet<>(pool.workerPids()).equals(new HashSet<>(workers))),
          "the real workers changed: " + workers + " -> " + pool.workerPids());
      a.finish(heap);
    }
  }

  @Test
  void grpcManagerPort() throws Exception {
    try (Manager manager = Manager.builder().transport("grpc").build()) {
      ManagedQueue<Integer> q = manager.queue("abuse");
      int[] n = {0};
      Attacks a = new Attacks("grpc-manager", () -> queueRoundTrip(q, n[0]++));
      a.healthCheck.run();
      long heap = Rel.usedHeapAfterGc();
      String hostPort = manager.address().substring("grpc:".length());
      // The manager answers a bad request with an ERROR answer on the same stream: that is a clear error too.
      grpcCommonAttacks(a, hostPort, manager.authKey(), ByteBuffer.allocate(9).put((byte) 99).putLong(7).array(), true);
      a.finish(heap);
    }
  }

  // ================================================================== grpc: spoofed server

  /**
   * The other direction: a hostile endpoint that a worker or a manager client is pointed at (a port
   * reused after the pool exited, a wrong address). It does not know the key; the client must refuse
   * it with a clear error before sending anything decodable, and must never send it the key.
   */
  @Test
  void grpcSpoofedServer() throws Exception {
    byte[] key = key();
    try (ProcessPool pool = ProcessPool.builder().transport("grpc").processes(1).authKey(key).build()) {
      int[] n = {0};
      Attacks a = new Attacks("grpc-spoofed-server", () -> {
        int x = n[0]++;
        assertEquals(x + 1, (int) pool.apply((Integer i) -> i + 1, x));
      });
      a.healthCheck.run();
      long heap = Rel.usedHeapAfterGc();
      io.procpool.api.spi.TransportProvider grpc = io.procpool.api.spi.TransportRegistry.get("grpc");
      io.procpool.api.spi.TransportOptions options =
          new io.procpool.api.spi.TransportOptions(key, 1 << 20, null, java.util.Map.of());
      java.util.Map<String, java.util.function.BiConsumer<io.grpc.Metadata, io.grpc.Metadata>> spoofs =
          new java.util.LinkedHashMap<>();
      spoofs.put("a guessed server proof", (in, out) -> {
        out.put(WirePeers.VERSION, WirePeers.GRPC_PROTOCOL);
        out.put(WirePeers.SERVER_NONCE, WirePeers.nonce());
        out.put(WirePeers.SERVER_PROOF, WirePeers.nonce());
      });
      spoofs.put("no server proof", (in, out) -> out.put(WirePeers.VERSION, WirePeers.GRPC_PROTOCOL));
      spoofs.put("the client's nonce and proof reflected back", (in, out) -> {
        out.put(WirePeers.VERSION, WirePeers.GRPC_PROTOCOL);
        byte[] cn = in.get(WirePeers.CLIENT_NONCE);
        out.put(WirePeers.SERVER_NONCE, cn);
        out.put(WirePeers.SERVER_PROOF, WirePeers.grpcProof(key(), "server", cn, cn));
      });
      spoofs.put("an old (v1) server that acks at once", (in, out) -> out.put(WirePeers.VERSION, "1"));
      for (var spoof : spoofs.entrySet()) {
        try (WirePeers.SpoofedGrpcServer fake = new WirePeers.SpoofedGrpcServer(spoof.getValue())) {
          String outcome;
          boolean refused;
          try {
            grpc.connect(fake.hostPort(), options).close();
            outcome = "connected";
            refused = false;
          } catch (io.procpool.api.spi.ProtocolException e) {
            outcome = "ProtocolException: " + e.getMessage();
            refused = true;
          }
          boolean leaked = fake.received(key);
          a.check("spoofed server (worker side), " + spoof.getKey(), outcome + (leaked ? "; KEY LEAKED" : ""),
              refused && !leaked && fake.streams.get() == 1);
        }
      }
      try (WirePeers.SpoofedGrpcServer fake = new WirePeers.SpoofedGrpcServer(spoofs.get("a guessed server proof"))) {
        String outcome;
        boolean refused;
        try (Manager m = Manager.connect("grpc:" + fake.hostPort(), key)) {
          m.queue();
          outcome = "connected";
          refused = false;
        } catch (io.procpool.api.ManagerUnreachableException e) {
          outcome = "ManagerUnreachableException: " + e.getMessage();
          refused = e.getCause() instanceof io.procpool.api.spi.ProtocolException;
        }
        boolean leaked = fake.received(key);
        a.check("spoofed server (manager client), a guessed server proof", outcome + (leaked ? "; KEY LEAKED" : ""),
            refused && !leaked);
      }
      a.finish(heap);
    }
  }
}
