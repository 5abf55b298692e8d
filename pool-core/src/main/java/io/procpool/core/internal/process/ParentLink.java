package io.procpool.core.internal.process;

import java.io.ByteArrayOutputStream;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * Child side of a {@link ChildJvm}: the link to the parent through standard input. Open it with
 * {@link #open()}, read the secret with {@link #readSecret()} and the transport properties with
 * {@link #readProperties()}, then {@link #exitWhenParentDies(long)}; {@link #close()} it before a
 * normal exit. {@link ChildMain} does all of this for a child's main class.
 *
 * <p>Standard input is reopened as a {@link FileChannel} where the platform allows it, so that
 * {@code close()} can stop the thread blocked reading it: at exit, HotSpot waits up to 300 ms for
 * threads blocked in native code, which made every worker's exit that much slower.
 */
public final class ParentLink implements Closeable {
  private static final long PARENT_POLL_MILLIS = 200;

  private final FileChannel channel;
  private final InputStream in;
  private volatile boolean closed;
  private Thread poll;

  private ParentLink(FileChannel channel, InputStream in) {
    this.channel = channel;
    this.in = in;
  }

  /** Opens the link to the parent on standard input. */
  public static ParentLink open() {
    try {
      FileChannel ch = FileChannel.open(Path.of("/proc/self/fd/0"), StandardOpenOption.READ);
      return new ParentLink(ch, Channels.newInputStream(ch));
    } catch (IOException | RuntimeException e) {
      return new ParentLink(null, System.in);
    }
  }

  /** Reads the secret line the parent wrote. */
  public byte[] readSecret() throws IOException {
    return readSecret(in);
  }

  /**
   * Reads the transport properties the parent wrote after the secret (call after
   * {@link #readSecret()}, before {@link #exitWhenParentDies}).
   */
  public Map<String, String> readProperties() throws IOException {
    return readProperties(in);
  }

  /** Reads the properties block a parent wrote to {@code stdin} after the secret. */
  static Map<String, String> readProperties(InputStream in) throws IOException {
    Map<String, String> properties = new LinkedHashMap<>();
    while (true) {
      String line = readLine(in, 1 << 20);
      if (line == null) {
        throw new IOException("standard input closed before the transport properties arrived (parent gone?)");
      }
      if (line.isEmpty()) {
        return properties;
      }
      Map.Entry<String, String> property = PropertyLines.parse(line);
      if (property == null) {
        throw new IOException("malformed transport property line from the parent");
      }
      properties.put(property.getKey(), property.getValue());
    }
  }

  /**
   * Halts this JVM when the parent dies: when standard input (whose other end only the parent
   * holds) reaches end-of-file, or when the parent pid is gone (a reused pid does not count as
   * alive: {@link ProcessHandle#isAlive()} checks the start time). Starts two daemon threads.
   */
  public void exitWhenParentDies(long parentPid) {
    Optional<ProcessHandle> parent = ProcessHandle.of(parentPid);
    if (parent.isEmpty()) {
      Runtime.getRuntime().halt(1);
      return;
    }
    Thread eof = new Thread(new Runnable() {
      @Override
      public void run() {
        try {
          byte[] sink = new byte[256];
          while (in.read(sink) != -1) {
            // nothing is expected after the secret
          }
        } catch (IOException ignored) {
          // treated as end-of-file, unless we closed it ourselves
        }
        if (!closed) {
          Runtime.getRuntime().halt(1);
        }
      }
    }, "procpool-parent-eof");
    eof.setDaemon(true);
    eof.start();
    ProcessHandle p = parent.get();
    poll = new Thread(new Runnable() {
      @Override
      public void run() {
        while (!closed) {
          try {
            Thread.sleep(PARENT_POLL_MILLIS);
          } catch (InterruptedException e) {
            return;
          }
          if (!closed && !p.isAlive()) {
            Runtime.getRuntime().halt(1);
          }
        }
      }
    }, "procpool-parent-watch");
    poll.setDaemon(true);
    poll.start();
  }

  /** Stops watching the parent, before a normal exit. */
  @Override
  public void close() {
    closed = true;
    if (poll != null) {
      poll.interrupt();
    }
    if (channel != null) {
      try {
        channel.close(); // wakes the thread blocked reading it
      } catch (IOException ignored) {
        // exiting anyway
      }
    }
  }

  /** Reads the secret line a parent wrote to {@code stdin}. */
  static byte[] readSecret(InputStream stdin) throws IOException {
    String line = readLine(stdin, 4096);
    if (line == null) {
      throw new IOException("standard input closed before the auth key arrived (parent gone?)");
    }
    return Base64.getDecoder().decode(line.trim());
  }

  /** One line (without its newline), or null at end-of-file; unbuffered, so nothing beyond it is consumed. */
  private static String readLine(InputStream stdin, int max) throws IOException {
    ByteArrayOutputStream line = new ByteArrayOutputStream(64);
    while (true) {
      int b = stdin.read();
      if (b == -1) {
        return null;
      }
      if (b == '\n') {
        return line.toString(StandardCharsets.US_ASCII);
      }
      if (line.size() > max) {
        throw new IOException("line from the parent too long (more than " + max + " bytes)");
      }
      line.write(b);
    }
  }
}
