package io.procpool.core;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.procpool.api.ProcessPool;
import io.procpool.api.spi.TransportRegistry;
import java.io.IOException;
import java.net.URL;
import java.util.Collections;
import java.util.Enumeration;
import org.junit.jupiter.api.Test;

/** A fat jar whose service files were not merged: the error names the cause and the fix. */
class ServiceFilesTest {
  /** Sees every class of the test's classpath, but no META-INF/services file: an unmerged fat jar. */
  private static final class NoServiceFiles extends ClassLoader {
    NoServiceFiles() {
      super(ServiceFilesTest.class.getClassLoader());
    }

    @Override
    public Enumeration<URL> getResources(String name) throws IOException {
      return name.startsWith("META-INF/services/") ? Collections.emptyEnumeration() : super.getResources(name);
    }
  }

  private static <T extends Throwable> T withoutServiceFiles(Class<T> expected, Runnable r) {
    Thread t = Thread.currentThread();
    ClassLoader before = t.getContextClassLoader();
    t.setContextClassLoader(new NoServiceFiles());
    try {
      return assertThrows(expected, r::run);
    } finally {
      t.setContextClassLoader(before);
    }
  }

  @Test
  void aTransportWhoseClassIsPresentButNotRegisteredNamesTheShadeTransformer() {
    IllegalArgumentException e = withoutServiceFiles(IllegalArgumentException.class,
        () -> TransportRegistry.get("threads"));
    assertTrue(e.getMessage().contains("io.procpool.core.ThreadsTransportProvider is present"), e.getMessage());
    assertTrue(e.getMessage().contains("META-INF/services/io.procpool.api.spi.TransportProvider"), e.getMessage());
    assertTrue(e.getMessage().contains("ServicesResourceTransformer"), e.getMessage());
    assertTrue(e.getMessage().contains("mergeServiceFiles()"), e.getMessage());
  }

  @Test
  void theBuilderReportsAnUnregisteredTransportTheSameWay() {
    IllegalArgumentException e = withoutServiceFiles(IllegalArgumentException.class,
        () -> ProcessPool.builder().transport("threads").processes(1).build());
    assertTrue(e.getMessage().contains("ServicesResourceTransformer"), e.getMessage());
  }

  @Test
  void aTransportThatIsAbsentStillNamesItsArtifact() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> TransportRegistry.get("pipes"));
    assertTrue(e.getMessage().contains("Add the artifact io.procpool:ipc-pipes"), e.getMessage());
    assertFalse(e.getMessage().contains("ServicesResourceTransformer"), e.getMessage());
  }
}
