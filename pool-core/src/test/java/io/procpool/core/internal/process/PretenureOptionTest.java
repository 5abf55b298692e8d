package io.procpool.core.internal.process;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** Workers on the serial collector allocate large arrays in the old generation, unless the user decides. */
class PretenureOptionTest {

  @Test
  void serialCollectorWorkersPretenureLargeArrays() {
    List<String> options = ChildJvm.procpoolOptions(List.of(), List.of());
    int gc = options.indexOf("-XX:+UseSerialGC");
    assertTrue(gc >= 0, options.toString());
    assertEquals(ChildJvm.PRETENURE_OPTION, options.get(gc + 1));
  }

  @Test
  void aChosenCollectorOrThresholdIsLeftAlone() {
    List<String> g1 = ChildJvm.procpoolOptions(List.of("-XX:+UseG1GC"), List.of());
    assertFalse(g1.contains(ChildJvm.PRETENURE_OPTION), g1.toString());
    assertFalse(g1.contains("-XX:+UseSerialGC"), g1.toString());
    List<String> own = ChildJvm.procpoolOptions(List.of("-XX:PretenureSizeThreshold=0"), List.of());
    assertTrue(own.contains("-XX:+UseSerialGC"), own.toString());
    assertFalse(own.contains(ChildJvm.PRETENURE_OPTION), own.toString());
  }
}
