package io.procpool.api.spi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URL;
import java.net.URLClassLoader;
import java.util.List;
import java.util.ServiceConfigurationError;
import org.junit.jupiter.api.Test;

/** What the registry says when a known provider's class is present but the service loader did not return it. */
class TransportRegistryDiagnosisTest {
  private static final String THREADS = "io.procpool.core.ThreadsTransportProvider";

  @Test
  void aRegisteredProviderThatFailedToLoadIsNotBlamedOnServiceFiles() {
    // What the service loader reports when, e.g., ipc-grpc is present but Netty is not.
    ServiceConfigurationError error = new ServiceConfigurationError(
        TransportProvider.class.getName() + ": Provider " + THREADS + " could not be instantiated",
        new NoClassDefFoundError("io/grpc/netty/shaded/io/netty/channel/EventLoopGroup"));
    String message = TransportRegistry.unregistered(TransportProvider.class, THREADS, List.of(error));
    assertTrue(message.contains("is registered but could not be loaded"), message);
    assertTrue(message.contains("io/grpc/netty/shaded/io/netty/channel/EventLoopGroup"), message);
    assertTrue(!message.contains("ServicesResourceTransformer"), message);
  }

  @Test
  void aListedProviderWithoutAReportedErrorIsStillNotBlamedOnServiceFiles() {
    String message = TransportRegistry.unregistered(TransportProvider.class, THREADS, List.of());
    assertTrue(message.contains("present and registered but could not be loaded"), message);
  }

  @Test
  void anAbsentClassIsNoDiagnosis() {
    assertNull(TransportRegistry.unregistered(TransportProvider.class, "io.procpool.ipc.pipes.PipesTransportProvider",
        List.of()));
  }

  @Test
  void aContextClassLoaderThatCannotSeeProcpoolDoesNotHideItsProviders() throws Exception {
    // A pool thread of a Spring Boot jar on JDK 25, or an application server's thread: the context
    // loader is unrelated to the one that loaded procpool.
    Thread t = Thread.currentThread();
    ClassLoader before = t.getContextClassLoader();
    try (URLClassLoader unrelated = new URLClassLoader(new URL[0], ClassLoader.getPlatformClassLoader())) {
      t.setContextClassLoader(unrelated);
      assertEquals(THREADS, TransportRegistry.get("threads").getClass().getName());
      assertEquals("java", CodecRegistry.get("java").name());
      assertTrue(TransportRegistry.names().contains("threads"));
    } finally {
      t.setContextClassLoader(before);
    }
  }
}
