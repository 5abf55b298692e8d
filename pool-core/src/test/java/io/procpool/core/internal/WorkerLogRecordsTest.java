package io.procpool.core.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.procpool.api.spi.Connection;
import io.procpool.api.spi.ProtocolException;
import io.procpool.core.JavaSerializationCodec;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.ListResourceBundle;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.logging.ConsoleHandler;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogManager;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Worker log records: what {@link LogForwardingHandler} sends (formatting, thread, order of flushes,
 * records too large for a frame, reentrancy, failures) and how {@link WorkerChannel#reemit} re-emits
 * them in the parent. The end-to-end path is in the pool contract suite.
 */
@Timeout(10)
class WorkerLogRecordsTest {
  private final Payloads payloads = new Payloads(new JavaSerializationCodec(), SerialFilters.create(null, 1 << 20),
      WorkerLogRecordsTest.class.getClassLoader());
  private final RecordingConnection connection = new RecordingConnection();
  private final AtomicInteger flushSoonCalls = new AtomicInteger();
  private final ByteArrayOutputStream fallbackBytes = new ByteArrayOutputStream();
  private final PrintStream fallback = new PrintStream(fallbackBytes, true, StandardCharsets.UTF_8);

  /** Collects written messages; counts flushes; runs {@link #onWrite} inside write. */
  static final class RecordingConnection implements Connection {
    final List<ByteBuffer> messages = new ArrayList<>();
    int flushes;
    Consumer<ByteBuffer> onWrite = m -> {};

    @Override
    public void start(Listener listener) {}

    @Override
    public synchronized void write(ByteBuffer message) {
      onWrite.accept(message);
      ByteBuffer copy = ByteBuffer.allocate(message.remaining());
      copy.put(message.duplicate()).flip();
      messages.add(copy);
    }

    @Override
    public synchronized void flush() {
      flushes++;
    }

    @Override
    public void close() {}

    @Override
    public String describe() {
      return "recording";
    }
  }

  private LogForwardingHandler handler(int maxFrameSize) {
    return new LogForwardingHandler(connection, payloads, maxFrameSize, Thread.currentThread(),
        flushSoonCalls::incrementAndGet, fallback);
  }

  private WorkerProtocol.Log decode(ByteBuffer m) throws ProtocolException {
    ByteBuffer b = m.duplicate();
    assertEquals(WorkerProtocol.LOG, b.get(), "message type");
    return WorkerProtocol.decodeLog(b, payloads);
  }

  /** A bundle in which "greeting" is "hello {0}". */
  public static final class Greetings extends ListResourceBundle {
    @Override
    protected Object[][] getContents() {
      return new Object[][] {{"greeting", "hello {0}"}};
    }
  }

  @Test
  void aRecordOnTheTaskThreadIsSentFormattedAndFlushedAtOnce() throws Exception {
    LogForwardingHandler h = handler(1 << 20);
    LogRecord r = new LogRecord(Level.WARNING, "greeting");
    r.setResourceBundle(new Greetings());
    r.setParameters(new Object[] {"world"});
    r.setLoggerName("com.example.Job");
    r.setInstant(Instant.ofEpochSecond(1_700_000_000L, 123_456_789));
    r.setThrown(new IllegalStateException("broken", new ArithmeticException("the cause")));
    h.publish(r);

    assertEquals(1, connection.messages.size(), "one LOG per record");
    assertEquals(1, connection.flushes, "a record of the task thread is flushed before publish returns");
    assertEquals(0, flushSoonCalls.get());
    WorkerProtocol.Log log = decode(connection.messages.get(0));
    assertEquals(Level.WARNING.intValue(), log.level());
    assertEquals("com.example.Job", log.loggerName());
    assertEquals("hello world", log.message(), "resource bundle and parameters applied as Formatter.formatMessage does");
    assertEquals(Thread.currentThread().getName(), log.threadName());
    assertEquals(Instant.ofEpochSecond(1_700_000_000L, 123_456_789), log.time());
    IllegalStateException thrown = assertInstanceOf(IllegalStateException.class, log.thrown());
    assertEquals("broken", thrown.getMessage());
    assertEquals("the cause", assertInstanceOf(ArithmeticException.class, thrown.getCause()).getMessage());
    assertEquals("", fallbackBytes.toString(StandardCharsets.UTF_8), "nothing printed locally");
  }

  @Test
  void aRecordOfAnotherThreadIsQueuedAndLeftToTheFlusher() throws Exception {
    LogForwardingHandler h = handler(1 << 20);
    Thread other = new Thread(() -> h.publish(new LogRecord(Level.INFO, "from a background thread")), "helper-7");
    other.start();
    other.join();
    assertEquals(1, connection.messages.size());
    assertEquals(0, connection.flushes, "another thread (maybe a transport's) must not block in flush");
    assertEquals(1, flushSoonCalls.get(), "the flusher is asked to send it");
    WorkerProtocol.Log log = decode(connection.messages.get(0));
    assertEquals("helper-7", log.threadName());
    assertNull(log.loggerName(), "an anonymous record has no logger name");
    assertNull(log.thrown());

    LogRecord passedOn = new LogRecord(Level.INFO, "published by another thread than the one that logged it");
    passedOn.setLongThreadID(Long.MAX_VALUE);
    h.publish(passedOn);
    assertEquals("thread id " + Long.MAX_VALUE, decode(connection.messages.get(1)).threadName());
  }

  @Test
  void aRecordOverMaxFrameSizeLosesItsExceptionAndMostOfItsText() throws Exception {
    int maxFrameSize = 2048;
    LogForwardingHandler h = handler(maxFrameSize);
    LogRecord r = new LogRecord(Level.SEVERE, "x".repeat(10_000));
    r.setThrown(new IllegalArgumentException("too big to travel"));
    h.publish(r);
    ByteBuffer m = connection.messages.get(0);
    assertTrue(m.remaining() <= maxFrameSize, m.remaining() + " bytes");
    WorkerProtocol.Log log = decode(m);
    assertNull(log.thrown(), "the exception is dropped");
    assertTrue(log.message().startsWith("xxxx"), log.message());
    assertTrue(log.message().contains("over maxFrameSize 2048")
        && log.message().contains("java.lang.IllegalArgumentException: too big to travel"), log.message());
    assertEquals(Level.SEVERE.intValue(), log.level());
  }

  @Test
  void aRecordLoggedWhileSendingAnotherOnTheSameThreadIsPrintedLocally() throws Exception {
    LogForwardingHandler h = handler(1 << 20);
    connection.onWrite = m -> {
      connection.onWrite = x -> {};
      h.publish(new LogRecord(Level.WARNING, "logged by the transport inside write"));
    };
    h.publish(new LogRecord(Level.INFO, "the task's record"));
    assertEquals(1, connection.messages.size());
    assertEquals("the task's record", decode(connection.messages.get(0)).message());
    String local = fallbackBytes.toString(StandardCharsets.UTF_8);
    assertTrue(local.contains("logged by the transport inside write")
        && local.contains("procpool: a log record logged while procpool forwarded another record"), local);
  }

  @Test
  void aRecordThatCannotBeWrittenIsPrintedLocallyAndTheHandlerGoesOn() throws Exception {
    LogForwardingHandler h = handler(1 << 20);
    connection.onWrite = m -> {
      throw new IllegalStateException("transport refused");
    };
    h.publish(new LogRecord(Level.INFO, "first"));
    String local = fallbackBytes.toString(StandardCharsets.UTF_8);
    assertTrue(local.contains("could not be sent to the parent: java.lang.IllegalStateException: transport refused")
        && local.contains("first"), local);
    connection.onWrite = m -> {};
    h.publish(new LogRecord(Level.INFO, "second"));
    assertEquals("second", decode(connection.messages.get(0)).message());
  }

  @Test
  void installReplacesTheRootConsoleHandlers() {
    Logger root = LogManager.getLogManager().getLogger("");
    Handler[] before = root.getHandlers();
    ConsoleHandler console = new ConsoleHandler();
    root.addHandler(console);
    LogForwardingHandler h = handler(1 << 20);
    try {
      LogForwardingHandler.install(h);
      List<Handler> after = List.of(root.getHandlers());
      assertTrue(after.contains(h), "installed");
      assertFalse(after.stream().anyMatch(x -> x instanceof ConsoleHandler), "console handlers left: " + after);
    } finally {
      for (Handler x : root.getHandlers()) {
        root.removeHandler(x);
      }
      for (Handler x : before) {
        root.addHandler(x);
      }
    }
  }

  // ------------------------------------------------------------------ re-emission in the parent

  @Test
  void levelsMapAsSystemLoggerLevels() {
    assertSame(System.Logger.Level.ERROR, WorkerChannel.level(Level.SEVERE.intValue()));
    assertSame(System.Logger.Level.WARNING, WorkerChannel.level(Level.WARNING.intValue()));
    assertSame(System.Logger.Level.INFO, WorkerChannel.level(Level.INFO.intValue()));
    assertSame(System.Logger.Level.DEBUG, WorkerChannel.level(Level.CONFIG.intValue()));
    assertSame(System.Logger.Level.DEBUG, WorkerChannel.level(Level.FINE.intValue()));
    assertSame(System.Logger.Level.TRACE, WorkerChannel.level(Level.FINER.intValue()));
    assertSame(System.Logger.Level.TRACE, WorkerChannel.level(Level.FINEST.intValue()));
    assertSame(System.Logger.Level.TRACE, WorkerChannel.level(Level.ALL.intValue()));
    assertSame(System.Logger.Level.ERROR, WorkerChannel.level(Integer.MAX_VALUE));
    assertSame(System.Logger.Level.WARNING, WorkerChannel.level(950), "a custom level between WARNING and SEVERE");
    assertSame(System.Logger.Level.INFO, WorkerChannel.level(850));
  }

  @Test
  void reemitLogsUnderTheSameNameAndSurvivesABackendThatThrows() {
    String name = "io.procpool.test.reemit." + UUID.randomUUID();
    Logger logger = Logger.getLogger(name); // held: JUL keeps loggers weakly
    List<LogRecord> got = new ArrayList<>();
    Handler capture = new Handler() {
      @Override
      public void publish(LogRecord r) {
        got.add(r);
      }

      @Override
      public void flush() {}

      @Override
      public void close() {}
    };
    logger.setUseParentHandlers(false);
    logger.setLevel(Level.ALL);
    logger.addHandler(capture);
    RuntimeException cause = new RuntimeException("task failure");
    assertNull(WorkerChannel.reemit(4242, new WorkerProtocol.Log(Instant.now(), Level.FINEST.intValue(), name,
        "a {0} message", "main", cause)));
    assertEquals(1, got.size());
    assertEquals(Level.FINER, got.get(0).getLevel(), "FINEST → TRACE, which java.util.logging calls FINER");
    assertEquals(name, got.get(0).getLoggerName());
    assertEquals("[worker 4242 main] a {0} message", got.get(0).getMessage(), "the text is not formatted again");
    assertSame(cause, got.get(0).getThrown());

    Handler throwing = new Handler() {
      @Override
      public void publish(LogRecord r) {
        throw new IllegalStateException("the backend broke");
      }

      @Override
      public void flush() {}

      @Override
      public void close() {}
    };
    logger.addHandler(throwing);
    try {
      Throwable failure = WorkerChannel.reemit(1, new WorkerProtocol.Log(Instant.now(), Level.INFO.intValue(), name,
          "m", "main", null));
      assertEquals("the backend broke", assertInstanceOf(IllegalStateException.class, failure).getMessage(),
          "reemit returns what the backend threw instead of throwing it");
    } finally {
      logger.removeHandler(throwing);
      logger.removeHandler(capture);
    }
  }

  @Test
  void anAnonymousRecordIsReemittedOnTheRootLogger() {
    Logger root = LogManager.getLogManager().getLogger("");
    List<String> got = new ArrayList<>();
    Handler capture = new Handler() {
      @Override
      public void publish(LogRecord r) {
        got.add(r.getLoggerName() + "|" + r.getMessage());
      }

      @Override
      public void flush() {}

      @Override
      public void close() {}
    };
    root.addHandler(capture);
    try {
      assertNull(WorkerChannel.reemit(7, new WorkerProtocol.Log(Instant.now(), Level.WARNING.intValue(), null,
          "anonymous", "t", null)));
    } finally {
      root.removeHandler(capture);
    }
    assertEquals(List.of("|[worker 7 t] anonymous"), got);
  }
}
