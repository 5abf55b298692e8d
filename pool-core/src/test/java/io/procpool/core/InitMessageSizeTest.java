package io.procpool.core;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.procpool.api.ProcessPool;
import io.procpool.api.TaskSerializationException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** An INIT message over maxFrameSize (a big initializer) fails build() at once, saying why. */
class InitMessageSizeTest {
  @Test
  @Timeout(30)
  void anInitializerThatCannotBeSentFailsTheBuild() {
    byte[] captured = new byte[8192];
    TaskSerializationException e = assertThrows(TaskSerializationException.class, () -> {
      try (ProcessPool pool = ProcessPool.builder().transport("threads").processes(1).maxFrameSize(4096)
          .initializer(() -> captured.clone()).build()) {
        pool.apply((Integer x) -> x, 1);
      }
    });
    assertTrue(e.getMessage().contains("INIT message is") && e.getMessage().contains("over maxFrameSize 4096")
        && e.getMessage().contains("initializer"), e.getMessage());
  }
}
