package io.procpool.ipc.grpc;

import static io.procpool.ipc.grpc.Fixtures.TIMEOUT_SECONDS;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.procpool.api.spi.Connection;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;

/** Prints (does not assert) rough latency and throughput of an echo over one connection. */
final class Measure {
  private Measure() {}

  static void echo(Connection client, Connection parent, String label) throws Exception {
    // The parent echoes every message, flushing after each batch it reads.
    parent.start(new Connection.Listener() {
      @Override
      public void onMessage(ByteBuffer message) {
        ByteBuffer copy = ByteBuffer.allocate(message.remaining()).put(message).flip();
        parent.write(copy);
      }

      @Override
      public void onReadComplete() {
        try {
          parent.flush();
        } catch (IOException e) {
          throw new java.io.UncheckedIOException(e);
        }
      }

      @Override
      public void onClosed(Throwable cause) {}
    });
    java.util.concurrent.BlockingQueue<Integer> replies = new java.util.concurrent.LinkedBlockingQueue<>();
    client.start(new Connection.Listener() {
      @Override
      public void onMessage(ByteBuffer message) {
        replies.add(message.getInt(0));
      }

      @Override
      public void onClosed(Throwable cause) {}
    });
    byte[] payload = new byte[8];
    long[] samples = new long[2000];
    for (int i = 0; i < samples.length + 500; i++) {
      long t0 = System.nanoTime();
      client.write(ByteBuffer.wrap(payload.clone()).putInt(0, i).rewind());
      client.flush();
      Integer r = replies.poll(TIMEOUT_SECONDS, TimeUnit.SECONDS);
      assertEquals(i, r);
      if (i >= 500) {
        samples[i - 500] = System.nanoTime() - t0;
      }
    }
    Arrays.sort(samples);
    System.out.printf("grpc (%s): 8-byte round trip median %.1f us, p90 %.1f us%n",
        label, samples[samples.length / 2] / 1e3, samples[samples.length * 9 / 10] / 1e3);

    // Pipelined echo: keep up to 256 small messages in flight.
    int n = 200_000;
    int window = 256;
    long t0 = System.nanoTime();
    int sent = 0;
    int got = 0;
    while (got < n) {
      while (sent < n && sent - got < window) {
        client.write(ByteBuffer.allocate(8).putInt(0, sent));
        sent++;
      }
      client.flush();
      Integer r = replies.poll(TIMEOUT_SECONDS, TimeUnit.SECONDS);
      assertEquals(got, r);
      got++;
      while ((r = replies.poll()) != null) {
        assertEquals(got, r);
        got++;
      }
    }
    double secs = (System.nanoTime() - t0) / 1e9;
    System.out.printf("grpc (%s): pipelined echo of %d 8-byte messages (window %d): %.0f msg/s%n", label, n, window, n / secs);
  }
}
