package io.procpool.reliability;

import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/** Hostile peers: raw clients of the pipes wire format, of gRPC, and of raw HTTP/2. Every read is bounded. */
final class WirePeers {
  private WirePeers() {}

  static final ScheduledExecutorService TIMER = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread t = new Thread(r, "wire-peer-timer");
    t.setDaemon(true);
    return t;
  });

  static final int MAGIC = 0x50504950;
  /** The pipes handshake version (2: mutual authentication). */
  static final int PIPES_VERSION = 2;

  // ------------------------------------------------------------------ pipes

  /** A raw client of a pipes socket. */
  static final class PipesPeer implements AutoCloseable {
    final SocketChannel ch;

    PipesPeer(String path) throws IOException {
      ch = SocketChannel.open(StandardProtocolFamily.UNIX);
      ch.connect(UnixDomainSocketAddress.of(path));
    }

    void write(byte[] b) throws IOException {
      ByteBuffer buf = ByteBuffer.wrap(b);
      while (buf.hasRemaining()) {
        ch.write(buf);
      }
    }

    void writeFrame(byte[] payload) throws IOException {
      write(ByteBuffer.allocate(4 + payload.length).putInt(payload.length).put(payload).array());
    }

    /** Reads exactly n bytes, or fewer if the stream ends or {@code timeout} passes. */
    byte[] read(int n, Duration timeout) throws IOException {
      ByteBuffer buf = ByteBuffer.allocate(n);
      ScheduledFuture<?> closer = TIMER.schedule(() -> {
        try {
          ch.close();
        } catch (IOException ignored) {
        }
      }, timeout.toMillis(), TimeUnit.MILLISECONDS);
      try {
        while (buf.hasRemaining()) {
          if (ch.read(buf) < 0) {
            break;
          }
        }
      } catch (IOException e) {
        // closed by the timer or reset by the server: what we have is the answer
      } finally {
        closer.cancel(false);
      }
      byte[] out = new byte[buf.position()];
      buf.flip().get(out);
      return out;
    }

    /** "EOF" if the server closes the connection within {@code timeout} (skipping up to 1 MiB of frames). */
    String awaitClose(Duration timeout) throws IOException {
      long deadline = System.nanoTime() + timeout.toNanos();
      int total = 0;
      while (System.nanoTime() < deadline && total < (1 << 20)) {
        if (!ch.isOpen()) {
          return "no EOF within " + timeout.toMillis() + " ms (" + total + " bytes received)";
        }
        ByteBuffer buf = ByteBuffer.allocate(4096);
        long left = Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime()));
        ScheduledFuture<?> closer = TIMER.schedule(() -> {
          try {
            ch.close();
          } catch (IOException ignored) {
          }
        }, left, TimeUnit.MILLISECONDS);
        int r;
        try {
          r = ch.read(buf);
        } catch (java.nio.channels.AsynchronousCloseException e) {
          return "no EOF within " + timeout.toMillis() + " ms (" + total + " bytes received)";
        } catch (IOException e) {
          return "EOF"; // reset by peer
        } finally {
          closer.cancel(false);
        }
        if (r < 0) {
          return "EOF";
        }
        total += r;
      }
      return "no EOF within " + timeout.toMillis() + " ms (" + total + " bytes received)";
    }

    private byte[] serverNonce;
    private byte[] clientNonce;

    /**
     * Runs the client side of the (version 2, mutual) handshake, with {@code version} in its header;
     * returns the server's status and reason, "OK" only if the server also proved the key.
     */
    String handshake(byte[] key, int version) throws IOException {
      byte[] hello = read(38, Duration.ofSeconds(10));
      if (hello.length < 38) {
        return "no server hello (" + hello.length + " bytes)";
      }
      serverNonce = java.util.Arrays.copyOfRange(hello, 6, 38);
      clientNonce = new byte[32];
      new java.security.SecureRandom().nextBytes(clientNonce);
      write(ByteBuffer.allocate(70).putInt(MAGIC).putShort((short) version).put(clientNonce)
          .put(hmac(key, concat("procpool-pipes client", serverNonce, clientNonce))).array());
      return status(key);
    }

    /** Reads the handshake status: "OK", or "REFUSED(n): reason". */
    String status() throws IOException {
      return status(null);
    }

    private String status(byte[] key) throws IOException {
      byte[] s = read(1, Duration.ofSeconds(10));
      if (s.length == 0) {
        return "EOF without status";
      }
      if (s[0] == 0) {
        if (key == null) {
          return "OK";
        }
        byte[] proof = read(32, Duration.ofSeconds(10));
        return java.util.Arrays.equals(proof, hmac(key, concat("procpool-pipes server", serverNonce, clientNonce)))
            ? "OK" : "OK without a valid server proof";
      }
      byte[] len = read(2, Duration.ofSeconds(5));
      int n = len.length == 2 ? ((len[0] & 0xFF) << 8) | (len[1] & 0xFF) : 0;
      return "REFUSED(" + s[0] + "): " + new String(read(n, Duration.ofSeconds(5)), StandardCharsets.UTF_8);
    }

    @Override
    public void close() throws IOException {
      ch.close();
    }
  }

  static byte[] concat(String label, byte[] a, byte[] b) {
    byte[] l = label.getBytes(StandardCharsets.US_ASCII);
    return ByteBuffer.allocate(l.length + a.length + b.length).put(l).put(a).put(b).array();
  }

  /**
   * A spoofed pipes endpoint (a socket path a client was pointed at by mistake or by an attacker):
   * it speaks the handshake but does not know the key, so it says "OK" with a made-up proof and then
   * sends a frame. Records what it saw.
   */
  static final class SpoofedPipesServer implements AutoCloseable {
    final java.nio.file.Path path;
    final java.nio.channels.ServerSocketChannel server;
    final Thread thread;
    volatile int clientsAnswered;
    volatile boolean frameSent;

    SpoofedPipesServer(java.nio.file.Path path, byte[] frame) throws IOException {
      this.path = path;
      server = java.nio.channels.ServerSocketChannel.open(StandardProtocolFamily.UNIX);
      server.bind(UnixDomainSocketAddress.of(path));
      thread = new Thread(() -> {
        while (server.isOpen()) {
          try (SocketChannel ch = server.accept()) {
            byte[] nonce = new byte[32];
            new java.util.Random().nextBytes(nonce);
            writeAll(ch, ByteBuffer.allocate(38).putInt(MAGIC).putShort((short) PIPES_VERSION).put(nonce).flip());
            ByteBuffer answer = ByteBuffer.allocate(70);
            while (answer.hasRemaining() && ch.read(answer) >= 0) {
              // read the client's answer
            }
            clientsAnswered++;
            byte[] madeUp = new byte[32];
            new java.util.Random().nextBytes(madeUp);
            writeAll(ch, ByteBuffer.allocate(33).put((byte) 0).put(madeUp).flip());
            writeAll(ch, ByteBuffer.allocate(4 + frame.length).putInt(frame.length).put(frame).flip());
            frameSent = true;
            ByteBuffer sink = ByteBuffer.allocate(4096);
            while (ch.read(sink) >= 0) {
              sink.clear();
            }
          } catch (IOException e) {
            // the client hung up, or we are closed
          }
        }
      }, "spoofed-pipes-server");
      thread.setDaemon(true);
      thread.start();
    }

    private static void writeAll(SocketChannel ch, ByteBuffer b) throws IOException {
      while (b.hasRemaining()) {
        ch.write(b);
      }
    }

    @Override
    public void close() throws IOException {
      server.close();
      java.nio.file.Files.deleteIfExists(path);
    }
  }

  static byte[] hmac(byte[] key, byte[] message) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(key, "HmacSHA256"));
      return mac.doFinal(message);
    } catch (java.security.GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  // ------------------------------------------------------------------ grpc (a real gRPC client sending what it likes)

  static final MethodDescriptor.Marshaller<byte[]> BYTES = new MethodDescriptor.Marshaller<>() {
    @Override
    public InputStream stream(byte[] value) {
      return new ByteArrayInputStream(value);
    }

    @Override
    public byte[] parse(InputStream stream) {
      try {
        return stream.readAllBytes();
      } catch (IOException e) {
        throw new IllegalStateException(e);
      }
    }
  };

  static final MethodDescriptor<byte[], byte[]> OPEN = MethodDescriptor.<byte[], byte[]>newBuilder()
      .setType(MethodDescriptor.MethodType.BIDI_STREAMING)
      .setFullMethodName("procpool.transport.v1.WorkerChannel/Open")
      .setRequestMarshaller(BYTES)
      .setResponseMarshaller(BYTES)
      .build();

  /** A protobuf {@code Frames} with the given messages. */
  static byte[] frames(byte[]... messages) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (byte[] m : messages) {
      out.write(0x0A);
      int n = m.length;
      while ((n & ~0x7F) != 0) {
        out.write((n & 0x7F) | 0x80);
        n >>>= 7;
      }
      out.write(n);
      out.writeBytes(m);
    }
    return out.toByteArray();
  }

  static final Metadata.Key<String> VERSION = Metadata.Key.of("procpool-version", Metadata.ASCII_STRING_MARSHALLER);
  static final Metadata.Key<byte[]> CLIENT_NONCE =
      Metadata.Key.of("procpool-client-nonce-bin", Metadata.BINARY_BYTE_MARSHALLER);
  static final Metadata.Key<byte[]> SERVER_NONCE =
      Metadata.Key.of("procpool-server-nonce-bin", Metadata.BINARY_BYTE_MARSHALLER);
  static final Metadata.Key<byte[]> SERVER_PROOF =
      Metadata.Key.of("procpool-server-proof-bin", Metadata.BINARY_BYTE_MARSHALLER);
  /** The gRPC transport's protocol version (ipc-grpc's Handshake.PROTOCOL_VERSION). */
  static final String GRPC_PROTOCOL = "2";

  static byte[] nonce() {
    byte[] n = new byte[32];
    new java.security.SecureRandom().nextBytes(n);
    return n;
  }

  /** The gRPC handshake's proof: HMAC-SHA256(key, "procpool-grpc-v2 " + role || Nc || Ns). */
  static byte[] grpcProof(byte[] key, String role, byte[] clientNonce, byte[] serverNonce) {
    byte[] label = ("procpool-grpc-v" + GRPC_PROTOCOL + " " + role).getBytes(StandardCharsets.US_ASCII);
    byte[] m = new byte[label.length + clientNonce.length + serverNonce.length];
    System.arraycopy(label, 0, m, 0, label.length);
    System.arraycopy(clientNonce, 0, m, label.length, clientNonce.length);
    System.arraycopy(serverNonce, 0, m, label.length + clientNonce.length, serverNonce.length);
    return hmac(key, m);
  }

  /**
   * Opens the pool's stream with protocol {@code version} (null = header absent) and a client nonce,
   * answers the server's challenge with a proof made from {@code key} (null: an empty proof), sends
   * {@code messages} and returns how the server ended the call within {@code timeout}:
   * "STATUS_CODE: description", or "open after N answers" if it did not.
   */
  static String grpcCall(String hostPort, byte[] key, String version, Duration timeout, byte[]... messages)
      throws InterruptedException {
    int colon = hostPort.lastIndexOf(':');
    ManagedChannel channel = NettyChannelBuilder
        .forAddress(hostPort.substring(0, colon), Integer.parseInt(hostPort.substring(colon + 1)))
        .usePlaintext()
        .build();
    try {
      Metadata headers = new Metadata();
      byte[] clientNonce = nonce();
      headers.put(CLIENT_NONCE, clientNonce);
      if (version != null) {
        headers.put(VERSION, version);
      }
      CompletableFuture<Status> closed = new CompletableFuture<>();
      CompletableFuture<Metadata> answered = new CompletableFuture<>();
      AtomicInteger answers = new AtomicInteger();
      ClientCall<byte[], byte[]> call = channel.newCall(OPEN, CallOptions.DEFAULT);
      call.start(new ClientCall.Listener<>() {
        @Override
        public void onHeaders(Metadata h) {
          answered.complete(h);
        }

        @Override
        public void onMessage(byte[] message) {
          answers.incrementAndGet();
          call.request(1);
        }

        @Override
        public void onClose(Status status, Metadata trailers) {
          answered.complete(null);
          closed.complete(status);
        }
      }, headers);
      call.request(1);
      Metadata challenge;
      try {
        challenge = answered.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
      } catch (java.util.concurrent.TimeoutException | java.util.concurrent.ExecutionException e) {
        challenge = null;
      }
      if (challenge != null) {
        byte[] serverNonce = challenge.get(SERVER_NONCE);
        byte[] proof = key == null || serverNonce == null
            ? new byte[0]
            : grpcProof(key, "client", clientNonce, serverNonce);
        call.sendMessage(frames(proof));
        for (byte[] m : messages) {
          call.sendMessage(m);
        }
      }
      try {
        Status s = closed.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        return s.getCode() + ": " + s.getDescription();
      } catch (java.util.concurrent.TimeoutException e) {
        call.cancel("test done", null);
        return "open after " + answers.get() + " answers";
      } catch (java.util.concurrent.ExecutionException e) {
        return "error " + e.getCause();
      }
    } finally {
      channel.shutdownNow();
      channel.awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  // ------------------------------------------------------------------ spoofed gRPC server

  /**
   * A hostile gRPC endpoint on a port a worker or manager client is pointed at (a reused port): it
   * speaks the transport's wire format but does not know the key. It answers every stream with the
   * response headers {@code responseHeaders} fills in and an "ack", and records every byte it
   * receives (header values and messages), so a test can tell whether the key leaked.
   */
  static final class SpoofedGrpcServer implements AutoCloseable {
    final io.grpc.Server server;
    private final ByteArrayOutputStream received = new ByteArrayOutputStream();
    final AtomicInteger streams = new AtomicInteger();

    SpoofedGrpcServer(java.util.function.BiConsumer<Metadata, Metadata> responseHeaders) throws IOException {
      io.grpc.ServerCallHandler<byte[], byte[]> handler = (call, headers) -> {
        streams.incrementAndGet();
        record(headers.toString().getBytes(StandardCharsets.UTF_8));
        for (String k : headers.keys()) {
          if (k.endsWith(Metadata.BINARY_HEADER_SUFFIX)) {
            for (byte[] v : headers.getAll(Metadata.Key.of(k, Metadata.BINARY_BYTE_MARSHALLER))) {
              record(v);
            }
          }
        }
        Metadata response = new Metadata();
        responseHeaders.accept(headers, response);
        call.sendHeaders(response);
        call.request(Integer.MAX_VALUE);
        call.sendMessage(frames()); // an "ack": an empty Frames
        return new io.grpc.ServerCall.Listener<>() {
          @Override
          public void onMessage(byte[] message) {
            record(message);
          }
        };
      };
      server = io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder
          .forAddress(new InetSocketAddress("127.0.0.1", 0), io.grpc.InsecureServerCredentials.create())
          .addService(io.grpc.ServerServiceDefinition.builder("procpool.transport.v1.WorkerChannel")
              .addMethod(OPEN, handler)
              .build())
          .build()
          .start();
    }

    private synchronized void record(byte[] b) {
      received.writeBytes(b);
    }

    String hostPort() {
      return "127.0.0.1:" + ((InetSocketAddress) server.getListenSockets().get(0)).getPort();
    }

    /** Whether {@code secret} (or its Base64 form) appeared in anything this server received. */
    synchronized boolean received(byte[] secret) {
      byte[] all = received.toByteArray();
      return indexOf(all, secret) >= 0
          || indexOf(all, Base64.getEncoder().withoutPadding().encodeToString(secret)
              .getBytes(StandardCharsets.US_ASCII)) >= 0;
    }

    @Override
    public void close() throws InterruptedException {
      server.shutdownNow();
      server.awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  static int indexOf(byte[] haystack, byte[] needle) {
    outer:
    for (int i = 0; i + needle.length <= haystack.length; i++) {
      for (int j = 0; j < needle.length; j++) {
        if (haystack[i + j] != needle[j]) {
          continue outer;
        }
      }
      return i;
    }
    return -1;
  }

  // ------------------------------------------------------------------ raw TCP / HTTP/2

  /** Connects to host:port, sends {@code bytes}, and reports whether the server closed within {@code timeout}. */
  static String rawTcp(String hostPort, byte[] bytes, Duration timeout) throws IOException {
    int colon = hostPort.lastIndexOf(':');
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress(hostPort.substring(0, colon), Integer.parseInt(hostPort.substring(colon + 1))), 5000);
      s.setSoTimeout((int) timeout.toMillis());
      try {
        s.getOutputStream().write(bytes);
        s.getOutputStream().flush();
      } catch (IOException e) {
        return "EOF (reset while sending)";
      }
      return drain(s.getInputStream(), timeout);
    }
  }

  private static String drain(InputStream in, Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    int total = 0;
    byte[] buf = new byte[4096];
    try {
      while (System.nanoTime() < deadline) {
        int r = in.read(buf);
        if (r < 0) {
          return "EOF after " + total + " bytes";
        }
        total += r;
      }
    } catch (java.net.SocketTimeoutException e) {
      return "no EOF within " + timeout.toMillis() + " ms";
    } catch (IOException e) {
      return "EOF (reset) after " + total + " bytes";
    }
    return "no EOF within " + timeout.toMillis() + " ms";
  }

  /**
   * Opens a gRPC stream by hand over HTTP/2 (HPACK literals, no Huffman) with the given key, then
   * sends a gRPC message prefix announcing {@code announcedLength} bytes followed by a few bytes only.
   * Returns how the server reacted within {@code timeout}: RST_STREAM, trailers (END_STREAM), GOAWAY or EOF.
   */
  static String http2LengthBomb(String hostPort, byte[] key, long announcedLength, Duration timeout) throws IOException {
    int colon = hostPort.lastIndexOf(':');
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress(hostPort.substring(0, colon), Integer.parseInt(hostPort.substring(colon + 1))), 5000);
      s.setSoTimeout((int) timeout.toMillis());
      OutputStream out = s.getOutputStream();
      out.write("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
      frame(out, 4, 0, 0, new byte[0]); // SETTINGS
      ByteArrayOutputStream hpack = new ByteArrayOutputStream();
      literal(hpack, ":method", "POST");
      literal(hpack, ":scheme", "http");
      literal(hpack, ":path", "/procpool.transport.v1.WorkerChannel/Open");
      literal(hpack, ":authority", "localhost");
      literal(hpack, "content-type", "application/grpc");
      literal(hpack, "te", "trailers");
      // A well-formed start of the handshake: the bomb is the first message, where the proof belongs.
      literal(hpack, "procpool-client-nonce-bin", Base64.getEncoder().withoutPadding().encodeToString(nonce()));
      literal(hpack, "procpool-version", GRPC_PROTOCOL);
      frame(out, 1, 0x4, 1, hpack.toByteArray()); // HEADERS, END_HEADERS, stream 1
      ByteBuffer data = ByteBuffer.allocate(5 + 64);
      data.put((byte) 0).putInt((int) announcedLength);
      frame(out, 0, 0, 1, data.array()); // DATA on stream 1: the announced length, then 64 bytes only
      out.flush();
      InputStream in = s.getInputStream();
      long deadline = System.nanoTime() + timeout.toNanos();
      try {
        while (System.nanoTime() < deadline) {
          byte[] h = in.readNBytes(9);
          if (h.length < 9) {
            return "EOF";
          }
          int len = ((h[0] & 0xFF) << 16) | ((h[1] & 0xFF) << 8) | (h[2] & 0xFF);
          int type = h[3];
          int flags = h[4];
          int stream = ByteBuffer.wrap(h, 5, 4).getInt() & 0x7FFFFFFF;
          byte[] payload = in.readNBytes(len);
          if (type == 4 && (flags & 1) == 0) {
            frame(out, 4, 1, 0, new byte[0]); // SETTINGS ACK
            out.flush();
          } else if (type == 3 && stream == 1) {
            return "RST_STREAM(error " + ByteBuffer.wrap(payload).getInt() + ")";
          } else if (type == 7) {
            return "GOAWAY";
          } else if ((type == 1 || type == 0) && stream == 1 && (flags & 1) != 0) {
            return "stream ended by the server (trailers)";
          }
        }
      } catch (java.net.SocketTimeoutException e) {
        return "no reaction within " + timeout.toMillis() + " ms";
      } catch (IOException e) {
        return "EOF (reset)";
      }
      return "no reaction within " + timeout.toMillis() + " ms";
    }
  }

  private static void frame(OutputStream out, int type, int flags, int stream, byte[] payload) throws IOException {
    ByteBuffer h = ByteBuffer.allocate(9);
    h.put((byte) (payload.length >>> 16)).put((byte) (payload.length >>> 8)).put((byte) payload.length);
    h.put((byte) type).put((byte) flags).putInt(stream);
    out.write(h.array());
    out.write(payload);
  }

  private static void literal(ByteArrayOutputStream out, String name, String value) {
    out.write(0x00); // literal header field without indexing, new name
    byte[] n = name.getBytes(StandardCharsets.US_ASCII);
    byte[] v = value.getBytes(StandardCharsets.US_ASCII);
    out.write(n.length); // < 127: fits the 7-bit prefix, no Huffman
    out.writeBytes(n);
    out.write(v.length);
    out.writeBytes(v);
  }
}
