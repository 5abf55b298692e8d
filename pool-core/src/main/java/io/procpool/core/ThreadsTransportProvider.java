package io.procpool.core;

import io.procpool.api.spi.Connection;
import io.procpool.api.spi.MessageTooLargeException;
import io.procpool.api.spi.ProtocolException;
import io.procpool.api.spi.TransportOptions;
import io.procpool.api.spi.TransportProvider;
import io.procpool.api.spi.TransportServer;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The {@code "threads"} transport: workers are threads of this JVM, like Python's
 * {@code multiprocessing.dummy}. Every task, argument and result still goes through the codec, so
 * serialization mistakes show up exactly as with process workers; but there is no process isolation:
 * a task's {@code System.exit} ends the whole JVM, and a worker "killed" for a timeout or a
 * cancellation is abandoned (its thread is interrupted and its result discarded). Use it to debug and
 * to test tasks quickly.
 */
public final class ThreadsTransportProvider extends TransportProvider {
  private static final Map<String, Server> SERVERS = new ConcurrentHashMap<>();
  private static final AtomicInteger IDS = new AtomicInteger();

  /** Creates the provider; it is stateless. */
  public ThreadsTransportProvider() {}

  @Override
  public String name() {
    return "threads";
  }

  @Override
  public boolean workersInProcess() {
    return true;
  }

  @Override
  public TransportServer listen(TransportOptions options, TransportServer.Acceptor acceptor) {
    String address = "threads:" + ProcessHandle.current().pid() + ":" + IDS.incrementAndGet();
    Server server = new Server(address, options, acceptor);
    SERVERS.put(address, server);
    return server;
  }

  @Override
  public Connection connect(String address, TransportOptions options) throws IOException {
    Server server = SERVERS.get(address);
    if (server == null) {
      throw new IOException("threads: no pool listening at " + address);
    }
    if (!MessageDigest.isEqual(server.options.authKey(), options.authKey())) {
      throw new ProtocolException("threads: authentication refused by " + address
          + ": the auth key did not match the server's key");
    }
    Conn client = new Conn(address + "/worker", options.maxFrameSize());
    Conn parentSide = new Conn(address + "/parent", server.options.maxFrameSize());
    client.peer = parentSide;
    parentSide.peer = client;
    server.accept(parentSide);
    return client;
  }

  private static final class Server implements TransportServer {
    private final String address;
    private final TransportOptions options;
    private final Acceptor acceptor;
    private final ConcurrentLinkedQueue<Conn> connections = new ConcurrentLinkedQueue<>();
    private volatile boolean closed;

    Server(String address, TransportOptions options, Acceptor acceptor) {
      this.address = address;
      this.options = options;
      this.acceptor = acceptor;
    }

    void accept(Conn c) throws IOException {
      if (closed) {
        throw new IOException("threads: pool at " + address + " is closed");
      }
      connections.add(c);
      acceptor.onConnection(c);
    }

    @Override
    public String address() {
      return address;
    }

    @Override
    public void close() {
      closed = true;
      SERVERS.remove(address, this);
      connections.forEach(Conn::close);
    }
  }

  /** One end of an in-memory message pipe; a delivery thread per end calls the listener. */
  private static final class Conn implements Connection {
    private static final ByteBuffer EOF = ByteBuffer.allocate(0);
    private static final AtomicInteger THREADS = new AtomicInteger();

    private final String name;
    private final int maxFrameSize;
    private final LinkedBlockingQueue<ByteBuffer> inbox = new LinkedBlockingQueue<>();
    private final ConcurrentLinkedQueue<ByteBuffer> outbox = new ConcurrentLinkedQueue<>();
    private final AtomicBoolean closed = new AtomicBoolean();
    private final AtomicBoolean notified = new AtomicBoolean();
    private volatile Conn peer;
    private volatile Listener listener;

    Conn(String name, int maxFrameSize) {
      this.name = name;
      this.maxFrameSize = maxFrameSize;
    }

    @Override
    public void start(Listener l) {
      this.listener = l;
      Thread t = new Thread(this::deliver, "procpool-threads-reader-" + THREADS.incrementAndGet());
      t.setDaemon(true);
      t.start();
    }

    private void deliver() {
      try {
        while (true) {
          ByteBuffer m = inbox.take();
          if (m == EOF) {
            break;
          }
          if (m.remaining() > maxFrameSize) {
            closeWith(new ProtocolException("threads: message of " + m.remaining()
                + " bytes exceeds maxFrameSize " + maxFrameSize));
            return;
          }
          listener.onMessage(m);
          if (inbox.isEmpty()) {
            listener.onReadComplete();
          }
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } catch (Throwable t) {
        // A listener that throws (an Error included) closes this connection with that cause; the
        // peer sees the end too, so nothing waits on a connection nobody reads any more.
        closeWith(t);
        return;
      }
      closeWith(null);
    }

    private void closeWith(Throwable cause) {
      closed.set(true);
      outbox.clear();
      Conn p = peer;
      if (p != null) {
        p.inbox.add(EOF);
      }
      if (notified.compareAndSet(false, true) && listener != null) {
        try {
          listener.onClosed(cause);
        } catch (Throwable ignored) {
          // The connection is over either way.
        }
      }
    }

    @Override
    public void write(ByteBuffer message) {
      if (message.remaining() > maxFrameSize) {
        throw new MessageTooLargeException(message.remaining(), maxFrameSize, name);
      }
      if (!closed.get()) {
        outbox.add(message);
      }
    }

    @Override
    public synchronized void flush() throws IOException {
      // One flusher at a time, so that messages reach the peer in the order they were written.
      Conn p = peer;
      if (closed.get() || (p != null && p.closed.get())) {
        outbox.clear();
        throw new IOException("threads: connection " + name + " is closed");
      }
      ByteBuffer m;
      while ((m = outbox.poll()) != null) {
        p.inbox.add(m);
      }
    }

    @Override
    public void close() {
      if (closed.compareAndSet(false, true)) {
        inbox.add(EOF);
        Conn p = peer;
        if (p != null) {
          p.inbox.add(EOF);
        }
      }
    }

    @Override
    public String describe() {
      return name;
    }
  }
}
