package io.procpool.ipc.pipes;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.procpool.api.AsyncResult;
import io.procpool.api.ProcessPool;
import io.procpool.api.TaskSerializationException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;

/**
 * {@code byte[]} arguments and results through real worker JVMs, at the sizes where their frames change
 * path: sliced from the read buffer, or read into a lent buffer ({@code onLentMessage}: the worker keeps it
 * without a copy until the task ran, and both sides read later large frames into it); up to maxFrameSize
 * and one byte over it.
 */
@Timeout(60)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class PipesLargeValuesTest {
  static final int MAX_FRAME = 256 * 1024;
  /** A TASK frame of an {@code apply} with a byte[] argument: type, task id, function id, kind, tag, length. */
  static final int TASK_OVERHEAD = 1 + 8 + 4 + 1 + 1 + 4;
  /** A RESULT frame with a byte[] value: type, task id, exec nanos, status, tag, length. */
  static final int RESULT_OVERHEAD = 1 + 8 + 8 + 1 + 1 + 4;
  static final int LARGEST_SLICED = PipesConnection.READ_BUFFER_SIZE - 4;

  private ProcessPool pool;

  @BeforeAll
  void start() {
    pool = ProcessPool.builder().transport("pipes").processes(1).maxFrameSize(MAX_FRAME).build();
  }

  @AfterAll
  void stop() {
    if (pool != null) {
      pool.close();
    }
  }

  static byte[] pattern(int size, int seed) {
    byte[] b = new byte[size];
    for (int i = 0; i < size; i++) {
      b[i] = (byte) (seed * 31 + i * 7);
    }
    return b;
  }

  static byte[] echo(byte[] b) {
    return b;
  }

  @Test
  void byteArraysRoundTripExactlyOnBothSidesOfEveryThreshold() {
    int[] sizes = {0, 1,
        LARGEST_SLICED - RESULT_OVERHEAD, LARGEST_SLICED - RESULT_OVERHEAD + 1, // the result's frame
        LARGEST_SLICED - TASK_OVERHEAD, LARGEST_SLICED - TASK_OVERHEAD + 1, // the task's frame
        200_000, MAX_FRAME - RESULT_OVERHEAD}; // the largest result that fits
    for (int size : sizes) {
      byte[] in = pattern(size, size);
      assertArrayEquals(pattern(size, size), pool.apply(PipesLargeValuesTest::echo, in), size + " bytes");
    }
  }

  @Test
  void atMaxFrameSizeTheTaskGoesAndOneByteMoreIsRefusedAtSubmit() {
    int largestArgument = MAX_FRAME - TASK_OVERHEAD;
    assertEquals(largestArgument, pool.apply((byte[] b) -> b.length, pattern(largestArgument, 3)));
    TaskSerializationException e = assertThrows(TaskSerializationException.class,
        () -> pool.apply((byte[] b) -> b.length, new byte[largestArgument + 1]));
    assertTrue(e.getMessage().contains("over maxFrameSize " + MAX_FRAME), e.getMessage());
    // The echo of that argument has a result frame over the limit: the task fails, the worker goes on.
    TaskSerializationException r = assertThrows(TaskSerializationException.class,
        () -> pool.apply(PipesLargeValuesTest::echo, new byte[MAX_FRAME - RESULT_OVERHEAD + 1]));
    assertTrue(r.getMessage().contains("over maxFrameSize " + MAX_FRAME), r.getMessage());
    assertArrayEquals(pattern(7, 7), pool.apply(PipesLargeValuesTest::echo, pattern(7, 7)));
  }

  /**
   * An argument is captured when the submitting call returns: the caller may change its array at once,
   * while the task waits in the parent or in the worker's queue (where large frames stay without a copy).
   */
  @Test
  void theCallerMayReuseItsArrayAsSoonAsTheSubmitReturns() throws Exception {
    byte[] shared = new byte[150_000];
    List<AsyncResult<byte[]>> results = new ArrayList<>();
    for (int i = 0; i < 8; i++) {
      System.arraycopy(pattern(shared.length, i), 0, shared, 0, shared.length);
      results.add(pool.applyAsync(PipesLargeValuesTest::echo, shared));
    }
    java.util.Arrays.fill(shared, (byte) 0);
    for (int i = 0; i < results.size(); i++) {
      assertArrayEquals(pattern(shared.length, i), results.get(i).get(30, TimeUnit.SECONDS), "task " + i);
    }
  }

  /** In the worker: an argument a task kept. */
  static byte[] keptArgument;

  static Integer keep(byte[] b) {
    keptArgument = b;
    return b.length;
  }

  static byte[] kept(Integer ignored) {
    return keptArgument;
  }

  /**
   * Both sides read large frames into a buffer they reuse ({@code onLentMessage}): a task may keep its
   * argument and the caller its results while later large frames arrive in the same memory.
   */
  @Test
  void aTaskMayKeepItsArgumentAndTheCallerItsResultsWhileLaterFramesReuseTheBuffers() {
    int size = PipesConnection.SPARE_MIN; // frames of this size are read into a kept spare
    try (ProcessPool big = ProcessPool.builder().transport("pipes").processes(1).build()) {
      assertEquals(size, big.apply(PipesLargeValuesTest::keep, pattern(size, 1)));
      List<byte[]> results = new ArrayList<>();
      for (int i = 0; i < 4; i++) {
        results.add(big.apply(PipesLargeValuesTest::echo, pattern(size - i, 2 + i)));
      }
      assertArrayEquals(pattern(size, 1), big.apply(PipesLargeValuesTest::kept, 0), "the task's kept argument");
      for (int i = 0; i < results.size(); i++) {
        assertArrayEquals(pattern(size - i, 2 + i), results.get(i), "result " + i);
      }
    }
  }

  @Test
  void byteArraysInsideOtherObjectsStillRoundTrip() {
    ArrayList<byte[]> in = new ArrayList<>(List.of(pattern(100_000, 1), pattern(0, 2), pattern(70_000, 3)));
    ArrayList<byte[]> out = pool.apply((ArrayList<byte[]> l) -> l, in);
    assertEquals(in.size(), out.size());
    for (int i = 0; i < in.size(); i++) {
      assertArrayEquals(in.get(i), out.get(i), "element " + i);
    }
  }
}
