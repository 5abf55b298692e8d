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

    int streamed = 1_000_000;
    AtomicInteger received = new AtomicInteger();
    Object lock = new Object();
    CountDownLatch allEchoed = new CountDownLatch(1);
    client.start(new Connection.Listener() {
      @Override
      public void onMessage(ByteBuffer message) {
        int n = received.incrementAndGet();
        if (n <= 50_000 + 1000) { // ping-pong phase (warm-up + measured)
          synchronized (lock) {
            lock.notifyAll();
          }
        }
        if (n == 51_000 + streamed) {
          allEchoed.countDown();
        }
      }

      @Override
      public void onClosed(Throwable cause) {}
    });

    // Round trips: one 8-byte message at a time.
    double[] micros = new double[2];
    for (int phase = 0; phase < 2; phase++) {
      int rounds = phase == 0 ? 1000 : 50_000;
      long start = System.nanoTime();
      for (int i = 0; i < rounds; i++) {
        int expect = received.get() + 1;
        client.write(ByteBuffer.allocate(8).putLong(0, i));
        client.flush();
        synchronized (lock) {
          while (received.get() < expect) {
            lock.wait(1000);
          }
        }
      }
      micros[phase] = (System.nanoTime() - start) / 1000.0 / rounds;
    }

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
    System.out.printf("pipes (one JVM, reader threads, 8-byte ping-pong): round trip %.1f us (mean of 50k)%n",
        micros[1]);
    System.out.printf("pipes (one JVM, 64-byte messages streamed and echoed): %.0f msg/s each way%n",
        streamed / seconds);
  }
}
