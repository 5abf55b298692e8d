package io.procpool.core.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** {@code maxMemoryPerChild} reads VmRSS (kB, whatever the page size) from /proc/self/status. */
class ResidentMemoryTest {
  private static final String STATUS = "Name:\tjava\nUmask:\t0022\nState:\tS (sleeping)\nVmPeak:\t 9000000 kB\n"
      + "VmHWM:\t  250000 kB\nVmRSS:\t  123456 kB\nRssAnon:\t  100000 kB\nThreads:\t20\n";

  @Test
  void parsesVmRssInKilobytes() {
    assertEquals(123456L * 1024, ResidentMemory.parseStatus(STATUS));
    assertEquals(5L * 1024, ResidentMemory.parseStatus("VmRSS: 5 kB"));
    assertEquals(7L * 1024, ResidentMemory.parseStatus("Name:\tx\nVmRSS:\t7 kB"));
  }

  @Test
  void missingOrMalformedMeansUnknown() {
    assertEquals(0, ResidentMemory.parseStatus(""));
    assertEquals(0, ResidentMemory.parseStatus("Name:\tkthreadd\nThreads:\t1\n")); // kernel threads have none
    assertEquals(0, ResidentMemory.parseStatus("XVmRSS:\t12 kB\n"));
    assertEquals(0, ResidentMemory.parseStatus("VmRSS:\t12 pages\n"));
    assertEquals(0, ResidentMemory.parseStatus("VmRSS:\tlots kB\n"));
    assertEquals(0, ResidentMemory.parseStatus("VmRSS:\n"));
    assertEquals(0, ResidentMemory.parseStatus("VmRSS:\t-3 kB\n"));
  }

  @Test
  void readsThisProcess() throws Exception {
    Path status = Path.of("/proc/self/status");
    if (!Files.isReadable(status)) {
      assertEquals(0, ResidentMemory.bytes(), "no /proc: unknown");
      return;
    }
    long rss = ResidentMemory.bytes();
    assertTrue(rss > 1 << 20 && rss < Runtime.getRuntime().maxMemory() + (4L << 30), "VmRSS " + rss);
  }
}
