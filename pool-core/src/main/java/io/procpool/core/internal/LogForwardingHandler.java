package io.procpool.core.internal;

import io.procpool.api.spi.Connection;
import io.procpool.api.spi.MessageTooLargeException;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.util.logging.ConsoleHandler;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogManager;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.logging.SimpleFormatter;

/**
 * In a worker process: sends the records of {@code java.util.logging} (and so of {@code System.Logger},
 * which logs through it unless the worker's classpath brings another backend) to the parent as LOG
 * messages, which re-emits them (see {@link WorkerChannel}).
 *
 * <p>{@link #install} puts it on the root logger in place of the {@link ConsoleHandler}s there, so a
 * record is not also printed as text on stderr. Handlers the worker's own logging configuration adds
 * (a {@code FileHandler}, say) stay. Which records are sent is decided by the loggers' levels, as
 * in any JVM: INFO and above unless the worker's configuration ({@code java.util.logging.config.file}
 * in the pool's {@code jvmOptions}, or a task or initializer calling {@code Logger.setLevel}) says
 * otherwise. Nothing changes for a record its logger does not log: a disabled {@code logger.fine(..)}
 * costs what it always costs.
 *
 * <p>Order: on the thread that runs tasks, the output that thread printed (even without a line end)
 * goes out before the record, the record before the task's result, and the call blocks while the
 * parent does not read, as printing does. Records of other threads are queued without blocking (a
 * transport's own threads may log) and sent by the worker's flusher within a fraction of a
 * millisecond. A record logged while this handler sends another one on the same thread (a transport
 * that logs while it writes), or that cannot be sent, is printed on the worker's own stderr, which
 * the pool copies to its stderr.
 */
final class LogForwardingHandler extends Handler {
  /** The text a record that cannot travel keeps, in characters. */
  private static final int MAX_FALLBACK_MESSAGE = 4096;

  private final Connection connection;
  private final Payloads payloads;
  private final int maxFrameSize;
  private final Thread taskThread;
  private final Runnable flushSoon;
  private final PrintStream fallback;
  private final SimpleFormatter formatter = new SimpleFormatter();
  private final ThreadLocal<Boolean> sending = new ThreadLocal<>();

  /**
   * @param taskThread the thread that runs tasks: its records are sent at once, after its output
   * @param flushSoon asks the worker to flush the connection soon, without blocking the caller
   * @param fallback where records that cannot be sent are printed (the process's own stderr)
   */
  LogForwardingHandler(Connection connection, Payloads payloads, int maxFrameSize, Thread taskThread,
      Runnable flushSoon, PrintStream fallback) {
    this.connection = connection;
    this.payloads = payloads;
    this.maxFrameSize = maxFrameSize;
    this.taskThread = taskThread;
    this.flushSoon = flushSoon;
    this.fallback = fallback;
    setLevel(Level.ALL); // the loggers' levels decide
  }

  /**
   * Puts {@code handler} on the root logger and removes the root's {@link ConsoleHandler}s (which
   * would print each record on stderr as well).
   */
  static void install(LogForwardingHandler handler) {
    Logger root = LogManager.getLogManager().getLogger("");
    for (Handler h : root.getHandlers()) {
      if (h instanceof ConsoleHandler) {
        root.removeHandler(h);
        h.close();
      }
    }
    root.addHandler(handler);
  }

  @Override
  public void publish(LogRecord record) {
    if (record == null || !isLoggable(record)) {
      return;
    }
    if (sending.get() != null) {
      printLocally(record, "logged while procpool forwarded another record on the same thread");
      return;
    }
    sending.set(Boolean.TRUE);
    try {
      boolean onTaskThread = Thread.currentThread() == taskThread;
      if (onTaskThread) {
        // What the task printed before the record goes first, even a line without its end.
        System.out.flush();
        System.err.flush();
      }
      connection.write(encode(record));
      if (onTaskThread) {
        connection.flush();
      } else {
        flushSoon.run();
      }
    } catch (IOException e) {
      // The connection is gone: the worker ends (WorkerRuntime.onClosed).
    } catch (RuntimeException | LinkageError | StackOverflowError e) {
      printLocally(record, "could not be sent to the parent: " + e);
    } finally {
      sending.remove();
    }
  }

  /** The LOG message of {@code r}; one that would not fit a frame loses its exception and most of its text. */
  ByteBuffer encode(LogRecord r) {
    String message = formatter.formatMessage(r);
    String thread = threadName(r);
    ByteBuffer m = WorkerProtocol.log(payloads, r.getInstant(), r.getLevel().intValue(), r.getLoggerName(), message,
        thread, r.getThrown());
    if (m.remaining() <= maxFrameSize) {
      return m;
    }
    Throwable t = r.getThrown();
    String shortened = truncate(message, Math.max(0, Math.min(MAX_FALLBACK_MESSAGE, maxFrameSize / 8)))
        + " [procpool: this record was " + m.remaining() + " bytes, over maxFrameSize " + maxFrameSize
        + (t == null ? "; its text was cut" : "; its text was cut and its exception dropped: " + truncate(t.toString(), 256))
        + "]";
    ByteBuffer small = WorkerProtocol.log(payloads, r.getInstant(), r.getLevel().intValue(), r.getLoggerName(),
        shortened, thread, null);
    if (small.remaining() > maxFrameSize) {
      throw new MessageTooLargeException(small.remaining(), maxFrameSize, "a log record");
    }
    return small;
  }

  private static String threadName(LogRecord r) {
    Thread current = Thread.currentThread();
    // A record is usually published on the thread that logged it; a buffering handler may pass it on later.
    return r.getLongThreadID() == current.getId() ? current.getName() : "thread id " + r.getLongThreadID();
  }

  private static String truncate(String s, int max) {
    return s == null || s.length() <= max ? s : s.substring(0, max) + "…";
  }

  private void printLocally(LogRecord record, String why) {
    try {
      fallback.print("procpool: a log record " + why + ": " + formatter.format(record));
      fallback.flush();
    } catch (RuntimeException e) {
      // nowhere left to report it
    }
  }

  @Override
  public void flush() {}

  @Override
  public void close() {}
}
