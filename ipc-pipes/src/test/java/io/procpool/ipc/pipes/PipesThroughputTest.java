package io.procpool.ipc.pipes;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.procpool.api.spi.Connection;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A sanity measurement, in one JVM: it prints numbers and asserts only that the messages arrived.
 * Real speed targets live in the JMH benchmarks.
 */
@Timeout(60)
class PipesThroughputTest extends PipesFixture {

  @Test
  void printRoundTripLatencyAndStreamingRate() throws Exception {
    startServer();
    Connection client = connect();
    Connection serverSide = nextAccepted();
    // The server echoes every message, flushing once per read batch.
    serverSide.start(new Connection.Listener() {
      @Override
      public void onMessage(ByteBuffer message) {
        ByteBuffer copy = ByteBuffer.allocate(message.remaining());
        copy.put(message).flip();
        serverSide.write(copy);
      }

      @Override
      public void onReadComplete() {
        try {
          serverSide.flush();
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      }

      @Override
      public void onClosed(Throwable cause) {}
    });

    // Round trips: the client's reader thread answers each echo with the next ping, as a worker
    // answers tasks; 2000 warm-up rounds, then 50 000 measured ones.
    int warmup = 2000;
    int rounds = 50_000;
    int streamed = 1_000_000;
    AtomicInteger received = new AtomicInteger();
    long[] measuredStart = new long[1];
    long[] measuredEnd = new long[1];
    CountDownLatch pingPongDone = new CountDownLatch(1);
    CountDownLatch allEchoed = new CountDownLatch(1);
    client.start(new Connection.Listener() {
      @Override
      public void onMessage(ByteBuffer message) {
        int n = received.incrementAndGet();
        if (n == warmup) {
          measuredStart[0] = System.nanoTime();
        }
        if (n < warmup + rounds) {
          client.write(ByteBuffer.allocate(8).putLong(0, n));
          try {
            client.flush();
          } catch (IOException e) {
            throw new UncheckedIOException(e);
          }
        } else if (n == warmup + rounds) {
          measuredEnd[0] = System.nanoTime();
          pingPongDone.countDown();
        } else if (n == warmup + rounds + streamed) {
          allEchoed.countDown();
        }
      }

      @Override
      public void onClosed(Throwable cause) {}
    });
    client.write(ByteBuffer.allocate(8));
    client.flush();
    assertTrue(pingPongDone.await(WAIT_SECONDS, TimeUnit.SECONDS), "ping-pong finished: " + received.get());
    double[] micros = {0, (measuredEnd[0] - measuredStart[0]) / 1000.0 / rounds};

    // Streaming: 64-byte messages, flushed every 64, echoed back.
    long start = System.nanoTime();
    for (int i = 0; i < streamed; i++) {
      client.write(ByteBuffer.allocate(64).putInt(0, i));
      if ((i & 63) == 63) {
        client.flush();
      }
    }
    client.flush();
    assertTrue(allEchoed.await(WAIT_SECONDS, TimeUnit.SECONDS), "echoes arrived: " + received.get());
    double seconds = (System.nanoTime() - start) / 1e9;
    System.out.printf("pipes (one JVM, reader thread to reader thread, 8-byte ping-pong): round trip %.1f us (mean of 50k)%n",
        micros[1]);
    System.out.printf("pipes (one JVM, 64-byte messages streamed and echoed): %.0f msg/s each way%n",
        streamed / seconds);
  }

  @Test
  void printBulkRate() throws Exception {
    startServer();
    Connection client = connect();
    Connection serverSide = nextAccepted();
    int size = 1 << 20;
    int count = 2048; // 2 GiB one way
    AtomicInteger got = new AtomicInteger();
    CountDownLatch done = new CountDownLatch(1);
    serverSide.start(new Connection.Listener() {
      @Override
      public void onMessage(ByteBuffer message) {
        if (got.incrementAndGet() == count) {
          done.countDown();
        }
      }

      @Override
      public void onClosed(Throwable cause) {}
    });
    client.start(new Connection.Listener() {
      @Override
      public void onMessage(ByteBuffer message) {}

      @Override
      public void onClosed(Throwable cause) {}
    });
    ByteBuffer payload = ByteBuffer.allocateDirect(size);
    long start = System.nanoTime();
    for (int i = 0; i < count; i++) {
      client.write(payload.duplicate());
      client.flush();
    }
    assertTrue(done.await(WAIT_SECONDS * 3, TimeUnit.SECONDS), "bulk arrived: " + got.get());
    double seconds = (System.nanoTime() - start) / 1e9;
    System.out.printf("pipes (one JVM, 1 MiB messages one way): %.0f MiB/s%n", count / seconds);
  }
}
