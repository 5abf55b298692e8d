package io.procpool.testkit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.procpool.api.spi.Connection;
import io.procpool.api.spi.MessageTooLargeException;
import io.procpool.api.spi.ProtocolException;
import io.procpool.api.spi.TransportOptions;
import io.procpool.api.spi.TransportProvider;
import io.procpool.api.spi.TransportRegistry;
import io.procpool.api.spi.TransportServer;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The {@link Connection} / {@link TransportServer} / {@link TransportProvider} contract, as the SPI's
 * javadoc states it, run against one transport. A transport's test class extends this class and
 * supplies its provider (and, where it has them, its transport properties and a fake endpoint that
 * does not know the key); every test here then runs against that transport, in the parent JVM, with
 * no pool and no worker process.
 *
 * <p>What it pins: the provider is found by its name; messages both ways with their boundaries; 10<sup>5</sup> small messages in order;
 * concurrent writers keep each thread's order; 16 MiB messages both ways; an oversize write is refused
 * with {@link MessageTooLargeException} and the connection stays usable; an oversize inbound frame
 * closes the receiver with a {@link ProtocolException}; {@code onClosed} exactly once (peer close,
 * local close, close before start, close with a reason, server close, racing closes); a write after
 * close is dropped; a flush on a failed connection throws; a listener that throws (an {@link Error}
 * included) closes its connection with that cause and wedges nothing; interrupts do not break a
 * connection; a wrong key is refused before the acceptor; authentication is mutual; closing the server
 * closes its connections.
 *
 * <p>Each test cleans up the servers and connections it opened, and waits for conditions with
 * generous timeouts (never a fixed sleep). A transport's class is as small as:
 *
 * <pre>{@code
 * class MyConnectionContractTest extends AbstractConnectionContractTest {
 *   protected TransportProvider provider() {
 *     return new MyTransportProvider();
 *   }
 * }
 * }</pre>
 *
 * <p>It may add transport-specific tests with the same fixtures ({@link #startServer}, {@link #pair},
 * {@link Recorder}).
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
public abstract class AbstractConnectionContractTest {

  /** How long a test waits for anything that should happen "soon" (a message, a close). */
  protected static final Duration PATIENCE = Duration.ofSeconds(30);

  /** A small maxFrameSize, for the tests about limits (so that they move little data). */
  protected static final int SMALL_LIMIT = 64 * 1024;

  /** The maxFrameSize of the tests that are not about limits: the pool's default. */
  protected static final int DEFAULT_LIMIT = TransportOptions.DEFAULT_MAX_FRAME_SIZE;

  private static final SecureRandom RANDOM = new SecureRandom();

  /** The key of the servers this test starts. */
  protected final byte[] key = randomKey();

  private final List<AutoCloseable> cleanups = new CopyOnWriteArrayList<>();
  private final List<Recorder> recorders = new CopyOnWriteArrayList<>();

  // ---------------------------------------------------------------------------------------------
  // What a transport's subclass supplies

  /** The transport under test. */
  protected abstract TransportProvider provider();

  /**
   * Transport-specific properties given to both the servers and the clients of every test (for
   * example TLS files). None by default.
   */
  protected Map<String, String> properties() {
    return Map.of();
  }

  /**
   * Starts an endpoint, at an address the provider's {@link TransportProvider#connect} understands,
   * that speaks the transport's protocol as far as it can without knowing the auth key: the fake
   * server of a spoofing attacker (a reused socket path or port). Returns {@code null} (the default)
   * when the transport cannot have one; the mutual-authentication test is then skipped. The test
   * closes what this returns.
   *
   * @throws IOException if the fake cannot be started
   */
  protected Impostor startImpostor() throws IOException {
    return null;
  }

  /** A fake server that does not know the auth key; see {@link #startImpostor()}. */
  public interface Impostor extends AutoCloseable {

    /** Where clients reach it, as {@link TransportServer#address()} would say. */
    String address();

    /**
     * Whether a client revealed {@code authKey} itself to this endpoint (for example in a header)
     * rather than only proving that it knows it. False by default, for fakes that cannot tell.
     */
    default boolean sawKey(byte[] authKey) {
      return false;
    }

    /** Stops the fake and frees its address. */
    @Override
    void close();
  }

  // ---------------------------------------------------------------------------------------------
  // The provider

  @Test
  void providerIsFoundByItsNameThroughTheServiceLoader() {
    TransportProvider p = provider();
    assertTrue(p.isAvailable(), "the provider under test says it is not available in this JVM");
    TransportProvider found = TransportRegistry.get(p.name());
    assertEquals(p.getClass(), found.getClass(),
        "TransportRegistry.get(\"" + p.name() + "\") found another provider: list the class in"
            + " META-INF/services/" + TransportProvider.class.getName());
  }

  // ---------------------------------------------------------------------------------------------
  // Messages

  @Test
  void roundTripBothWaysKeepsMessageBoundaries() throws Exception {
    Pair p = pair(startServer(DEFAULT_LIMIT));

    p.client.write(utf8("ping"));
    p.client.write(ByteBuffer.allocate(0));
    ByteBuffer window = ByteBuffer.wrap(new byte[] {9, 1, 2, 3, 9});
    window.position(1).limit(4);
    p.client.write(window);
    p.client.flush();
    assertEquals("ping", p.atServer.nextString());
    assertEquals(0, p.atServer.next().length, "an empty message keeps its boundary");
    assertArrayEquals(new byte[] {1, 2, 3}, p.atServer.next(), "only the buffer's remaining bytes are the message");

    p.accepted.write(utf8("pong"));
    p.accepted.write(utf8("pong2"));
    p.accepted.flush();
    assertEquals("pong", p.atClient.nextString());
    assertEquals("pong2", p.atClient.nextString());

    await("onReadComplete after a run of messages, on both sides",
        () -> p.atServer.readCompletes.get() >= 1 && p.atClient.readCompletes.get() >= 1);
    assertFalse(p.client.describe().isEmpty(), "describe() names the peer");
    assertFalse(p.accepted.describe().isEmpty(), "describe() names the peer");
    assertEquals(0, p.atServer.closedCount.get() + p.atClient.closedCount.get(), "nothing closed the connection");
  }

  @Test
  void hundredThousandSmallMessagesArriveInOrderBothWays() throws Exception {
    Pair p = pair(startServer(DEFAULT_LIMIT));
    int n = 100_000;
    Recorder.Sequence toServer = p.atServer.sequence();
    Recorder.Sequence toClient = p.atClient.sequence();
    for (int i = 0; i < n; i++) {
      p.client.write(intMessage(i));
      p.accepted.write(intMessage(i));
      if (i % 1000 == 999) {
        p.client.flush();
        p.accepted.flush();
      }
    }
    p.client.flush();
    p.accepted.flush();
    toServer.awaitCount(n, "messages from the client");
    toClient.awaitCount(n, "messages from the server side");
    toServer.assertInOrder();
    toClient.assertInOrder();
    assertFalse(p.atServer.overlapped || p.atClient.overlapped, "listener methods were called concurrently");
  }

  @Test
  void concurrentWritersKeepEachThreadsOrderAndLoseNothing() throws Exception {
    Pair p = pair(startServer(DEFAULT_LIMIT));
    int threads = 8;
    int perThread = 10_000;
    int[] next = new int[threads];
    AtomicReference<String> disorder = new AtomicReference<>();
    AtomicInteger received = new AtomicInteger();
    p.atServer.onMessage = m -> {
      int thread = m.getInt(m.position());
      int seq = m.getInt(m.position() + 4);
      if (next[thread] != seq) {
        disorder.compareAndSet(null, "thread " + thread + ": expected " + next[thread] + ", got " + seq);
      }
      next[thread] = seq + 1;
      received.incrementAndGet();
    };
    List<CompletableFuture<Void>> writers = new ArrayList<>();
    CountDownLatch go = new CountDownLatch(1);
    for (int t = 0; t < threads; t++) {
      int thread = t;
      writers.add(CompletableFuture.runAsync(() -> {
        try {
          go.await();
          java.util.Random sizes = new java.util.Random(thread);
          for (int i = 0; i < perThread; i++) {
            // Mostly small messages, every 500th a larger one (transports often treat the two apart).
            int size = i % 500 == 0 ? 20_000 : 8 + sizes.nextInt(40);
            p.client.write(ByteBuffer.allocate(size).putInt(0, thread).putInt(4, i));
            if (i % 7 == 0 || i == perThread - 1) {
              p.client.flush();
            }
          }
        } catch (IOException | InterruptedException e) {
          throw new RuntimeException(e);
        }
      }, daemonExecutor("writer-" + t)));
    }
    go.countDown();
    for (CompletableFuture<Void> w : writers) {
      w.get(PATIENCE.toSeconds(), TimeUnit.SECONDS);
    }
    await("all " + threads * perThread + " messages to arrive",
        () -> received.get() == threads * perThread || disorder.get() != null || p.atServer.closedCount.get() > 0);
    assertEquals(0, p.atServer.closedCount.get(), "the connection closed: " + describeChain(p.atServer.cause.get()));
    assertNull(disorder.get(), "a thread's messages arrived out of order");
    assertEquals(threads * perThread, received.get());
    assertFalse(p.atServer.overlapped, "listener methods were called concurrently");
  }

  @Test
  void sixteenMebibyteMessagesBothWays() throws Exception {
    Pair p = pair(startServer(DEFAULT_LIMIT));
    byte[] big = new byte[16 * 1024 * 1024];
    RANDOM.nextBytes(big);
    p.client.write(ByteBuffer.wrap(big));
    p.client.write(utf8("after"));
    p.client.flush();
    assertArrayEquals(big, p.atServer.next(), "16 MiB from the client");
    assertEquals("after", p.atServer.nextString());
    p.accepted.write(ByteBuffer.wrap(big));
    p.accepted.write(utf8("after"));
    p.accepted.flush();
    assertArrayEquals(big, p.atClient.next(), "16 MiB from the server side");
    assertEquals("after", p.atClient.nextString());
  }

  // ---------------------------------------------------------------------------------------------
  // Size limits

  @ParameterizedTest(name = "written on the {0} side")
  @EnumSource(Side.class)
  void oversizeWriteIsRefusedAloneAndTheConnectionStaysUsable(Side side) throws Exception {
    Pair p = pair(startServer(SMALL_LIMIT), SMALL_LIMIT);
    Connection writer = side.connection(p);
    Recorder reader = side.peerRecorder(p);
    Throwable thrown = null;
    try {
      writer.write(ByteBuffer.allocate(SMALL_LIMIT + 1));
    } catch (Throwable t) {
      thrown = t;
    }
    if (!(thrown instanceof MessageTooLargeException)) {
      fail("write of a message of maxFrameSize + 1 bytes must throw MessageTooLargeException, but it "
          + (thrown == null ? "returned normally" : "threw " + describeChain(thrown)));
    }
    MessageTooLargeException e = (MessageTooLargeException) thrown;
    assertEquals(SMALL_LIMIT + 1, e.size(), "MessageTooLargeException.size()");
    assertEquals(SMALL_LIMIT, e.limit(), "MessageTooLargeException.limit()");

    writer.write(ByteBuffer.allocate(SMALL_LIMIT)); // exactly the limit is allowed
    writer.write(utf8("still open"));
    writer.flush();
    assertEquals(SMALL_LIMIT, reader.next().length, "a message of exactly maxFrameSize is delivered");
    assertEquals("still open", reader.nextString(), "the connection stays usable after a refused write");
    assertEquals(0, p.atServer.closedCount.get() + p.atClient.closedCount.get(),
        "a refused write closed the connection: " + describeChain(p.atServer.cause.get()) + " / "
            + describeChain(p.atClient.cause.get()));
  }

  @ParameterizedTest(name = "received on the {0} side")
  @EnumSource(Side.class)
  void oversizeInboundFrameClosesTheReceiverWithProtocolException(Side side) throws Exception {
    int bigLimit = 4 * SMALL_LIMIT;
    // The receiving side has the small limit, its peer a larger one (a peer with another configuration
    // or a bug): the peer may send what the receiver must refuse.
    TestServer server = startServer(side == Side.SERVER ? SMALL_LIMIT : bigLimit);
    Pair p = pair(server, side == Side.SERVER ? bigLimit : SMALL_LIMIT);
    Connection sender = side.peerConnection(p);
    Recorder receiver = side.recorder(p);
    sender.write(ByteBuffer.allocate(SMALL_LIMIT + 1));
    sender.write(utf8("not delivered"));
    flushAllowingPeerClose(sender);
    Throwable cause = receiver.awaitClosed("the receiver of an oversize frame");
    assertTrue(cause instanceof ProtocolException,
        "an oversize inbound frame must close the receiver with a ProtocolException, got " + describeChain(cause));
    assertTrue(receiver.messages.isEmpty(), "nothing of the oversize frame or after it was delivered");
    side.peerRecorder(p).awaitClosed("the sender of the oversize frame (its peer closed)");

    // Only that connection ended: the server goes on serving.
    assertServes(server, side == Side.SERVER ? SMALL_LIMIT : bigLimit);
  }

  // ---------------------------------------------------------------------------------------------
  // onClosed exactly once, and writes around a close

  @Test
  void peerCloseEndsBothSidesOnceAndCleanly() throws Exception {
    Pair p = pair(startServer(DEFAULT_LIMIT));
    p.client.close();
    assertNull(p.atServer.awaitClosed("the server side after the client closed"), "a clean end has no cause");
    assertNull(p.atClient.awaitClosed("the client after its local close"), "a local close has no cause");
    p.client.close();
    p.accepted.close();
    p.accepted.close();
    assertServes(p.server, DEFAULT_LIMIT); // a barrier: the transport has gone on since
    assertEquals(1, p.atClient.closedCount.get(), "onClosed calls on the client");
    assertEquals(1, p.atServer.closedCount.get(), "onClosed calls on the server side");
  }

  @Test
  void localCloseOfTheAcceptedSideEndsBothOnce() throws Exception {
    Pair p = pair(startServer(DEFAULT_LIMIT));
    p.accepted.close();
    assertNull(p.atServer.awaitClosed("the server side after its local close"), "a local close has no cause");
    assertNull(p.atClient.awaitClosed("the client after the server side closed"), "a clean end has no cause");
    p.client.close();
    assertServes(p.server, DEFAULT_LIMIT);
    assertEquals(1, p.atClient.closedCount.get(), "onClosed calls on the client");
    assertEquals(1, p.atServer.closedCount.get(), "onClosed calls on the server side");
  }

  @Test
  void racingLocalAndPeerClosesReportOnceEach() throws Exception {
    TestServer server = startServer(DEFAULT_LIMIT);
    for (int i = 0; i < 20; i++) {
      Pair p = pair(server);
      CountDownLatch go = new CountDownLatch(1);
      CompletableFuture<Void> other = CompletableFuture.runAsync(() -> {
        awaitLatch(go);
        p.accepted.close();
      }, daemonExecutor("closer"));
      go.countDown();
      p.client.close();
      other.get(PATIENCE.toSeconds(), TimeUnit.SECONDS);
      assertNull(p.atClient.awaitClosed("the client (round " + i + ")"));
      assertNull(p.atServer.awaitClosed("the server side (round " + i + ")"));
      p.client.close();
      p.accepted.close();
    }
    assertServes(server, DEFAULT_LIMIT);
    for (Recorder r : recorders) {
      assertTrue(r.closedCount.get() <= 1, "onClosed called " + r.closedCount.get() + " times");
    }
  }

  @ParameterizedTest(name = "on the {0} side")
  @EnumSource(Side.class)
  void closeBeforeStartStillReportsOnClosedOnce(Side side) throws Exception {
    TestServer server = startServer(DEFAULT_LIMIT);
    Connection client = connect(server, key, DEFAULT_LIMIT);
    Connection accepted = server.nextAccepted();
    Connection closing = side == Side.SERVER ? accepted : client;
    Connection other = side == Side.SERVER ? client : accepted;
    closing.close();
    Recorder atClosing = newRecorder();
    closing.start(atClosing);
    assertNull(atClosing.awaitClosed("a connection closed before start, once started"), "a local close has no cause");
    Recorder atOther = newRecorder();
    other.start(atOther);
    atOther.awaitClosed("the peer of a connection closed before start");
    closing.close();
    assertServes(server, DEFAULT_LIMIT);
    assertEquals(1, atClosing.closedCount.get(), "onClosed calls");
    assertEquals(1, atOther.closedCount.get(), "onClosed calls on the peer");
  }

  @ParameterizedTest(name = "on the {0} side")
  @EnumSource(Side.class)
  void closeWithAReasonReportsOnClosedOnceLocallyAndEndsThePeer(Side side) throws Exception {
    Pair p = pair(startServer(DEFAULT_LIMIT));
    Connection closing = side == Side.SERVER ? p.accepted : p.client;
    Recorder atClosing = side == Side.SERVER ? p.atServer : p.atClient;
    Recorder atPeer = side == Side.SERVER ? p.atClient : p.atServer;
    closing.close(new ProtocolException("test: the peer sent a malformed message"));
    assertNull(atClosing.awaitClosed("the side that closed with a reason"),
        "close(reason) is a local close: onClosed has no cause, as for close()");
    atPeer.awaitClosed("the peer of a connection closed with a reason");
    closing.close(new ProtocolException("test: again"));
    closing.close();
    assertServes(p.server, DEFAULT_LIMIT);
    assertEquals(1, atClosing.closedCount.get(), "onClosed calls");
    assertEquals(1, atPeer.closedCount.get(), "onClosed calls on the peer");
  }

  @Test
  void writeAfterCloseIsDroppedWithoutThrowing() throws Exception {
    Pair p = pair(startServer(DEFAULT_LIMIT));
    p.client.close();
    p.client.write(utf8("dropped")); // must not throw
    try {
      p.client.flush(); // nothing to send; IOException allowed (the connection is closed), nothing else
    } catch (IOException allowed) {
      // A closed connection may say so.
    }
    p.atServer.awaitClosed("the server side after the client closed");
    p.accepted.close();
    p.accepted.write(utf8("dropped too"));
    assertServes(p.server, DEFAULT_LIMIT);
    assertTrue(p.atServer.messages.isEmpty(), "a write after close reached the peer");
    assertTrue(p.atClient.messages.isEmpty(), "a write after close reached the peer");
  }

  @Test
  void closingTheServerClosesItsConnectionsAndRefusesNewOnes() throws Exception {
    TestServer server = startServer(DEFAULT_LIMIT);
    Pair p1 = pair(server);
    Pair p2 = pair(server);
    String address = server.server.address();
    server.server.close();
    for (Pair p : List.of(p1, p2)) {
      assertNull(p.atServer.awaitClosed("an accepted connection when its server closed"),
          "closing the server is a local close");
      p.atClient.awaitClosed("a client when the server it connected to closed");
    }
    server.server.close(); // idempotent
    Throwable refused = null;
    try {
      Connection late = provider().connect(address, options(key, DEFAULT_LIMIT));
      late.close();
    } catch (IOException e) {
      refused = e;
    }
    assertNotNull(refused, "connect to a closed server must throw IOException");
    assertEquals(2, server.acceptCount.get(), "the closed server accepted a connection");
    for (Pair p : List.of(p1, p2)) {
      assertEquals(1, p.atServer.closedCount.get(), "onClosed calls on the server side");
      assertEquals(1, p.atClient.closedCount.get(), "onClosed calls on the client");
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Failures

  @Test
  void flushOnABrokenConnectionThrowsIoException() throws Exception {
    // The peer goes away while this side still has data to send; this side has not started reading,
    // so only the flush can find out.
    TestServer server = startServer(DEFAULT_LIMIT);
    Connection client = connect(server, key, DEFAULT_LIMIT);
    server.nextAccepted().close();
    IOException thrown = null;
    int maxWrites = 1024; // 64 MiB: far more than any socket buffer holds
    int writes = 0;
    long deadline = System.nanoTime() + PATIENCE.toNanos();
    while (thrown == null && System.nanoTime() < deadline) {
      if (writes < maxWrites) {
        client.write(ByteBuffer.allocate(64 * 1024));
        writes++;
      }
      try {
        client.flush(); // the first flushes may still land in the socket's buffers
      } catch (IOException e) {
        thrown = e;
      }
    }
    assertNotNull(thrown, "flush went on succeeding for " + PATIENCE.toSeconds() + " s (" + writes
        + " messages of 64 KiB written) on a connection whose peer had closed");
    Recorder rec = newRecorder();
    client.start(rec);
    rec.awaitClosed("a connection whose flush failed");
    client.write(utf8("dropped"));
    assertFlushThrows(client, "a broken connection stays broken");
  }

  @Test
  void flushOnAFailedConnectionThrowsIoException() throws Exception {
    // Make the server side fail (an oversize frame from a client with a larger limit), then use it.
    TestServer server = startServer(SMALL_LIMIT);
    Pair p = pair(server, 4 * SMALL_LIMIT);
    p.client.write(ByteBuffer.allocate(SMALL_LIMIT + 1));
    flushAllowingPeerClose(p.client);
    Throwable cause = p.atServer.awaitClosed("the receiver of an oversize frame");
    assertNotNull(cause, "the connection failed, so onClosed has a cause");
    p.accepted.write(utf8("dropped"));
    assertFlushThrows(p.accepted, "flush on a connection that failed with " + describeChain(cause));
    assertFlushThrows(p.accepted, "a failed connection stays failed");
  }

  @ParameterizedTest(name = "on the {0} side")
  @EnumSource(Side.class)
  void listenerThrowingRuntimeExceptionClosesWithThatCause(Side side) throws Exception {
    listenerFailureClosesWithThatCause(side, new IllegalStateException("test: listener failed"));
  }

  @ParameterizedTest(name = "on the {0} side")
  @EnumSource(Side.class)
  void listenerThrowingErrorClosesWithThatCause(Side side) throws Exception {
    listenerFailureClosesWithThatCause(side, new TestError("test: listener failed with an Error"));
  }

  private void listenerFailureClosesWithThatCause(Side side, Throwable failure) throws Exception {
    TestServer server = startServer(DEFAULT_LIMIT);
    Pair p = pair(server);
    Recorder thrower = side.recorder(p);
    thrower.failWith = failure;
    Connection sender = side.peerConnection(p);
    sender.write(utf8("first"));
    sender.write(utf8("second"));
    flushAllowingPeerClose(sender); // the failing side may close before "second" is sent
    Throwable cause = thrower.awaitClosed("the connection whose listener threw " + failure.getClass().getSimpleName());
    assertTrue(cause == failure,
        "onClosed must get the listener's own throwable as the cause, got " + describeChain(cause));
    assertEquals(List.of(), thrower.messagesAsStrings(), "no message after the one that failed was delivered");
    side.peerRecorder(p).awaitClosed("the peer of the connection whose listener threw (the connection was closed, not wedged)");
    // The delivery machinery survived: the same server still serves new connections both ways.
    assertServes(server, DEFAULT_LIMIT);
    assertEquals(1, thrower.closedCount.get(), "onClosed calls");
  }

  // ---------------------------------------------------------------------------------------------
  // Interrupts

  @ParameterizedTest(name = "writing on the {0} side")
  @EnumSource(Side.class)
  void threadWithInterruptFlagSetCanWriteAndFlush(Side side) throws Exception {
    Pair p = pair(startServer(DEFAULT_LIMIT));
    Connection writer = side.connection(p);
    Recorder reader = side.peerRecorder(p);
    CompletableFuture<Boolean> flagAfter = supplyOnNewThread("interrupted-writer", () -> {
      Thread.currentThread().interrupt();
      writer.write(utf8("sent with the interrupt flag set"));
      writer.flush();
      return Thread.currentThread().isInterrupted();
    });
    Boolean flag = getOrFail(flagAfter, "write+flush with the interrupt flag set");
    assertTrue(flag, "the interrupt flag must stay set after write and flush");
    assertEquals("sent with the interrupt flag set", reader.nextString());
    writer.write(utf8("later"));
    writer.flush();
    assertEquals("later", reader.nextString(), "the connection is still usable");
    assertEquals(0, p.atServer.closedCount.get() + p.atClient.closedCount.get(), "nothing closed the connection");
  }

  @ParameterizedTest(name = "writing on the {0} side")
  @EnumSource(Side.class)
  void threadInterruptedRepeatedlyDuringLargeWritesDoesNotCloseTheConnection(Side side) throws Exception {
    Pair p = pair(startServer(DEFAULT_LIMIT));
    Connection writer = side.connection(p);
    Recorder reader = side.peerRecorder(p);
    Recorder.Sequence seq = reader.sequence();
    int messages = 48;
    int size = 1024 * 1024;
    AtomicBoolean writing = new AtomicBoolean(true);
    AtomicInteger interrupts = new AtomicInteger();
    AtomicReference<Thread> writerThread = new AtomicReference<>();
    CountDownLatch writerReady = new CountDownLatch(1);
    CompletableFuture<Void> interrupter = CompletableFuture.runAsync(() -> {
      awaitLatch(writerReady);
      while (writing.get()) {
        writerThread.get().interrupt();
        interrupts.incrementAndGet();
        Thread.yield();
      }
    }, daemonExecutor("interrupter"));
    CompletableFuture<Boolean> done = supplyOnNewThread("storm-writer", () -> {
      writerThread.set(Thread.currentThread());
      writerReady.countDown();
      while (interrupts.get() == 0) { // start writing only once the storm has begun
        Thread.onSpinWait();
      }
      try {
        for (int i = 0; i < messages; i++) {
          ByteBuffer m = ByteBuffer.allocate(size);
          m.putInt(0, i);
          writer.write(m);
          writer.flush();
        }
      } finally {
        writing.set(false);
      }
      interrupter.join();
      Thread.interrupted(); // the storm is over: flush once more with a clear flag
      writer.flush();
      return true;
    });
    getOrFail(done, "large writes and flushes by a thread interrupted again and again");
    assertTrue(interrupts.get() > 0, "the writer was never interrupted");
    seq.awaitCount(messages, "1 MiB messages written during the interrupt storm");
    seq.assertInOrder();
    assertEquals(0, p.atServer.closedCount.get() + p.atClient.closedCount.get(),
        "interrupting a writer closed the connection: " + describeChain(p.atServer.cause.get()) + " / "
            + describeChain(p.atClient.cause.get()));
    writer.write(intMessage(messages));
    writer.flush();
    seq.awaitCount(messages + 1, "messages, with one written after the storm");
  }

  // ---------------------------------------------------------------------------------------------
  // Authentication

  @Test
  void wrongKeyIsRefusedWithProtocolExceptionAndNeverReachesTheAcceptor() throws Exception {
    TestServer server = startServer(DEFAULT_LIMIT);
    byte[] wrong = key.clone();
    wrong[wrong.length - 1] ^= 1;
    Throwable thrown = null;
    try {
      Connection c = provider().connect(server.server.address(), options(wrong, DEFAULT_LIMIT));
      c.close();
    } catch (Throwable t) {
      thrown = t;
    }
    assertTrue(thrown instanceof ProtocolException,
        "connect with a key that differs from the server's must throw ProtocolException, got "
            + (thrown == null ? "a connection" : describeChain(thrown)));
    Pair good = pair(server);
    good.client.write(utf8("the right key"));
    good.client.flush();
    assertEquals("the right key", good.atServer.nextString());
    assertEquals(1, server.acceptCount.get(), "the acceptor saw a connection that had the wrong key");
  }

  @Test
  void connectFailsToAServerThatDoesNotKnowTheKey() throws Exception {
    Impostor impostor = startImpostor();
    assumeTrue(impostor != null, "the transport supplies no fake server (startImpostor)");
    cleanups.add(impostor);
    Throwable thrown = null;
    Connection spoofed = null;
    try {
      spoofed = provider().connect(impostor.address(), options(key, DEFAULT_LIMIT));
      cleanups.add(spoofed::close);
    } catch (Throwable t) {
      thrown = t;
    }
    assertTrue(spoofed == null,
        "connect returned a connection to an endpoint that does not know the auth key: authentication is not"
            + " mutual (" + impostor.address() + ")");
    assertTrue(thrown instanceof IOException,
        "connect to a server that does not know the key must throw IOException, got " + describeChain(thrown));
    assertFalse(impostor.sawKey(key), "the client revealed the auth key to a server that had not proved it");
  }

  // ---------------------------------------------------------------------------------------------
  // Fixtures

  /** Which end of a connection a parameterized test acts on. */
  protected enum Side {
    /** The connection the server's acceptor received. */
    SERVER,
    /** The connection {@link TransportProvider#connect} returned. */
    CLIENT;

    /** This side's connection. */
    Connection connection(Pair p) {
      return this == SERVER ? p.accepted : p.client;
    }

    /** This side's listener. */
    Recorder recorder(Pair p) {
      return this == SERVER ? p.atServer : p.atClient;
    }

    /** The other side's connection. */
    Connection peerConnection(Pair p) {
      return this == SERVER ? p.client : p.accepted;
    }

    /** The other side's listener. */
    Recorder peerRecorder(Pair p) {
      return this == SERVER ? p.atClient : p.atServer;
    }
  }

  /** Options with the test's properties. */
  protected final TransportOptions options(byte[] authKey, int maxFrameSize) {
    return new TransportOptions(authKey, maxFrameSize, null, properties());
  }

  /** A started server of the transport under test, its accepted connections queued. */
  protected final class TestServer {
    /** The server. */
    public final TransportServer server;
    /** Connections the acceptor received and no test has taken yet. */
    public final BlockingQueue<Connection> accepted = new LinkedBlockingQueue<>();
    /** How many connections the acceptor received. */
    public final AtomicInteger acceptCount = new AtomicInteger();

    TestServer(int maxFrameSize) throws IOException {
      this.server = provider().listen(options(key, maxFrameSize), c -> {
        acceptCount.incrementAndGet();
        cleanups.add(c::close);
        accepted.add(c);
      });
      cleanups.add(server::close);
    }

    /** The next connection the acceptor received, waiting for it up to {@link #PATIENCE}. */
    public Connection nextAccepted() throws InterruptedException {
      Connection c = accepted.poll(PATIENCE.toMillis(), TimeUnit.MILLISECONDS);
      assertNotNull(c, "the server did not hand over an accepted connection within " + PATIENCE.toSeconds() + " s");
      return c;
    }
  }

  /** Starts a server of the test's key and properties; the test closes it. */
  protected final TestServer startServer(int maxFrameSize) throws IOException {
    return new TestServer(maxFrameSize);
  }

  /** Connects to {@code server} (not started); the test closes the connection. */
  protected final Connection connect(TestServer server, byte[] authKey, int maxFrameSize) throws IOException {
    Connection c = provider().connect(server.server.address(), options(authKey, maxFrameSize));
    cleanups.add(c::close);
    return c;
  }

  /** A client and the server side of its connection, both started with recording listeners. */
  protected final class Pair {
    /** The server the client connected to. */
    public final TestServer server;
    /** The connection {@link TransportProvider#connect} returned. */
    public final Connection client;
    /** The server side of the same connection, as the acceptor received it. */
    public final Connection accepted;
    /** The client's listener. */
    public final Recorder atClient = newRecorder();
    /** The server side's listener. */
    public final Recorder atServer = newRecorder();

    Pair(TestServer server, int clientMaxFrameSize) throws IOException, InterruptedException {
      this.server = server;
      this.client = connect(server, key, clientMaxFrameSize);
      this.accepted = server.nextAccepted();
      client.start(atClient);
      accepted.start(atServer);
    }
  }

  /** A new started pair on {@code server}, the client with the default maxFrameSize. */
  protected final Pair pair(TestServer server) throws IOException, InterruptedException {
    return new Pair(server, DEFAULT_LIMIT);
  }

  /** A new started pair on {@code server}, the client with {@code clientMaxFrameSize}. */
  protected final Pair pair(TestServer server, int clientMaxFrameSize) throws IOException, InterruptedException {
    return new Pair(server, clientMaxFrameSize);
  }

  /** Proves that {@code server} still accepts and serves a new connection, both ways. */
  protected final void assertServes(TestServer server, int clientMaxFrameSize) throws Exception {
    Pair p = pair(server, clientMaxFrameSize);
    p.client.write(utf8("still serving"));
    p.client.flush();
    assertEquals("still serving", p.atServer.nextString(), "a new connection to the same server");
    p.accepted.write(utf8("still serving back"));
    p.accepted.flush();
    assertEquals("still serving back", p.atClient.nextString(), "a new connection to the same server");
  }

  /** Flushes messages the peer will refuse or fail on: the peer may close before all are sent. */
  private static void flushAllowingPeerClose(Connection sender) {
    try {
      sender.flush();
    } catch (IOException closedByThePeer) {
      // The receiver refused the frame on its header and closed: the rest could not be sent.
    }
  }

  private static void assertFlushThrows(Connection c, String what) {
    try {
      c.flush();
      fail(what + ": flush returned normally; it must throw IOException");
    } catch (IOException expected) {
      // As the contract says.
    }
  }

  /** A recording listener whose onClosed count the test checks at its end. */
  protected final Recorder newRecorder() {
    Recorder r = new Recorder();
    recorders.add(r);
    return r;
  }

  @AfterEach
  void closeEverything() {
    List<AutoCloseable> all = new ArrayList<>(cleanups);
    Collections.reverse(all);
    for (AutoCloseable c : all) {
      try {
        c.close();
      } catch (Exception | Error ignored) {
        // Cleanup goes on; a test that cares asserts on close itself.
      }
    }
    cleanups.clear();
    for (Recorder r : recorders) {
      assertTrue(r.closedCount.get() <= 1, "a listener's onClosed was called " + r.closedCount.get() + " times");
      assertFalse(r.overlapped, "a listener's methods were called concurrently");
    }
  }

  /** A listener that records what it is told; optionally fails on the first message. */
  protected static final class Recorder implements Connection.Listener {
    /** Copies of the messages received, in order. */
    public final BlockingQueue<byte[]> messages = new LinkedBlockingQueue<>();
    /** How many times onClosed was called. */
    public final AtomicInteger closedCount = new AtomicInteger();
    /** How many times onReadComplete was called. */
    public final AtomicInteger readCompletes = new AtomicInteger();
    /** The cause onClosed was given last. */
    public final AtomicReference<Throwable> cause = new AtomicReference<>();
    final CountDownLatch closed = new CountDownLatch(1);
    private final AtomicInteger inside = new AtomicInteger();
    volatile boolean overlapped;
    /** When set, replaces recording: called with each message instead. */
    volatile java.util.function.Consumer<ByteBuffer> onMessage;
    /** When set, the first onMessage throws it. */
    volatile Throwable failWith;

    @Override
    public void onMessage(ByteBuffer message) {
      enter();
      try {
        Throwable f = failWith;
        if (f != null) {
          failWith = null;
          if (f instanceof Error) {
            throw (Error) f;
          }
          throw (RuntimeException) f;
        }
        java.util.function.Consumer<ByteBuffer> hook = onMessage;
        if (hook != null) {
          hook.accept(message);
          return;
        }
        byte[] copy = new byte[message.remaining()];
        message.duplicate().get(copy);
        messages.add(copy);
      } finally {
        exit();
      }
    }

    @Override
    public void onReadComplete() {
      enter();
      readCompletes.incrementAndGet();
      exit();
    }

    @Override
    public void onClosed(Throwable c) {
      enter();
      try {
        cause.set(c);
        closedCount.incrementAndGet();
        closed.countDown();
      } finally {
        exit();
      }
    }

    private void enter() {
      if (inside.incrementAndGet() != 1) {
        overlapped = true;
      }
    }

    private void exit() {
      inside.decrementAndGet();
    }

    /** The next message, waiting for it up to {@link #PATIENCE}. */
    public byte[] next() throws InterruptedException {
      byte[] m = messages.poll(PATIENCE.toMillis(), TimeUnit.MILLISECONDS);
      if (m == null) {
        fail("no message arrived within " + PATIENCE.toSeconds() + " s"
            + (closedCount.get() > 0 ? "; the connection closed: " + describeChain(cause.get()) : ""));
      }
      return m;
    }

    /** The next message as UTF-8 text. */
    public String nextString() throws InterruptedException {
      return new String(next(), StandardCharsets.UTF_8);
    }

    List<String> messagesAsStrings() {
      List<String> out = new ArrayList<>();
      for (byte[] m : messages) {
        out.add(new String(m, StandardCharsets.UTF_8));
      }
      return out;
    }

    /** Waits for onClosed; returns its cause. */
    public Throwable awaitClosed(String what) throws InterruptedException {
      if (!closed.await(PATIENCE.toMillis(), TimeUnit.MILLISECONDS)) {
        fail("onClosed was not called within " + PATIENCE.toSeconds() + " s on " + what);
      }
      return cause.get();
    }

    /** Records only each message's leading int (a sequence number), and checks the order. */
    Sequence sequence() {
      Sequence s = new Sequence();
      onMessage = s::accept;
      return s;
    }

    final class Sequence {
      private final AtomicInteger count = new AtomicInteger();
      private volatile int expected;
      private volatile String disorder;

      void accept(ByteBuffer m) {
        int v = m.remaining() >= 4 ? m.getInt(m.position()) : -1;
        if (v != expected && disorder == null) {
          disorder = "expected message " + expected + ", got " + v;
        }
        expected = v + 1;
        count.incrementAndGet();
      }

      void awaitCount(int n, String what) {
        await(n + " " + what + " (got " + count.get() + ")",
            () -> count.get() >= n || closedCount.get() > 0 || disorder != null);
        assertEquals(0, closedCount.get(), "the connection closed: " + describeChain(cause.get()));
        assertNull(disorder, what);
        assertEquals(n, count.get(), what);
      }

      void assertInOrder() {
        assertNull(disorder);
      }

    }
  }

  /** An {@link Error} thrown by a listener on purpose. */
  static final class TestError extends Error {
    private static final long serialVersionUID = 1L;

    TestError(String message) {
      super(message);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Helpers

  /** Waits for {@code condition} up to {@link #PATIENCE}; fails naming {@code what}. */
  protected static void await(String what, BooleanSupplier condition) {
    long deadline = System.nanoTime() + PATIENCE.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        fail("timed out after " + PATIENCE.toSeconds() + " s waiting for " + what);
      }
      ProcessSupport.pause();
    }
  }

  /** {@code s} in UTF-8, as a message. */
  protected static ByteBuffer utf8(String s) {
    return ByteBuffer.wrap(s.getBytes(StandardCharsets.UTF_8));
  }

  private static ByteBuffer intMessage(int i) {
    return ByteBuffer.allocate(4).putInt(0, i);
  }

  private static byte[] randomKey() {
    byte[] k = new byte[32];
    RANDOM.nextBytes(k);
    return k;
  }

  private static String describeChain(Throwable t) {
    return AbstractContractTest.describeChain(t);
  }

  private static void awaitLatch(CountDownLatch latch) {
    try {
      if (!latch.await(PATIENCE.toMillis(), TimeUnit.MILLISECONDS)) {
        throw new IllegalStateException("latch not released in time");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  private static java.util.concurrent.Executor daemonExecutor(String name) {
    return r -> {
      Thread t = new Thread(r, "connection-contract-" + name);
      t.setDaemon(true);
      t.start();
    };
  }

  /** Something a test runs on a thread of its own (so that its interrupt flag is not the test's). */
  @FunctionalInterface
  private interface Body<T> {
    T run() throws Exception;
  }

  private static <T> CompletableFuture<T> supplyOnNewThread(String name, Body<T> body) {
    CompletableFuture<T> f = new CompletableFuture<>();
    daemonExecutor(name).execute(() -> {
      try {
        f.complete(body.run());
      } catch (Throwable t) {
        f.completeExceptionally(t);
      }
    });
    return f;
  }

  private static <T> T getOrFail(CompletableFuture<T> f, String what) throws InterruptedException {
    try {
      return f.get(PATIENCE.toMillis() * 2, TimeUnit.MILLISECONDS);
    } catch (ExecutionException e) {
      return fail(what + " threw " + describeChain(e.getCause()), e.getCause());
    } catch (TimeoutException e) {
      return fail(what + " did not finish within " + PATIENCE.toSeconds() * 2 + " s");
    }
  }
}
