package io.procpool.reliability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.procpool.api.ProcessPool;
import io.procpool.testkit.NoLeakedProcessesExtension;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** maxMemoryPerChild recycles a worker that leaks on purpose; the pool keeps its size and no task fails. */
@ExtendWith(NoLeakedProcessesExtension.class)
@EnabledOnOs(OS.LINUX)
class MemoryCapChaosTest {
  static final int LEAK_MIB = 64;
  static final long CAP = 192L * 1024 * 1024;
  static final int TASKS = 10;

  static List<String> transports() {
    return Rel.processTransports();
  }

  @ParameterizedTest(name = "memory-cap[{0}]")
  @MethodSource("transports")
  @Timeout(value = 120, unit = TimeUnit.SECONDS)
  void leakingWorkersAreRecycled(String transport) {
    try (ProcessPool pool = ProcessPool.builder().transport(transport).processes(2)
        .maxMemoryPerChild(CAP).jvmOptions("-Xmx512m").build()) {
      List<Long> pids = new ArrayList<>();
      for (int i = 0; i < TASKS; i++) {
        pids.add(pool.apply(Tasks::leak, LEAK_MIB)); // throws if a task fails
      }
      Set<Long> distinct = new LinkedHashSet<>(pids);
      boolean fullSize = Rel.await(Duration.ofSeconds(60), () -> pool.workerPids().size() == pool.processes());
      Rel.summary(String.format("memory-cap[%s]: %d tasks leaking %d MiB each, cap %d MiB: 0 failed, %d distinct "
              + "worker pids (%d recycled), full size after: %s", transport, TASKS, LEAK_MIB, CAP >> 20,
          distinct.size(), Math.max(0, distinct.size() - pool.processes()), fullSize));
      assertTrue(distinct.size() > pool.processes(), "no worker was recycled; pids used: " + pids);
      assertTrue(fullSize, "pool not at full size: " + pool.workerPids());
      assertEquals(42, pool.apply((Integer x) -> x, 42));
    }
  }
}
