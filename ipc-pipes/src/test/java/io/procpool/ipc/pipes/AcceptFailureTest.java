package io.procpool.ipc.pipes;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.procpool.api.spi.Connection;
import io.procpool.api.spi.TransportOptions;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The accept loop against a real EMFILE: a server JVM under {@code ulimit -n 128} holds every
 * connection until it runs out of descriptors and {@code accept()} fails; once it lets them go, new
 * clients must get in again (the loop used to die on the first failure).
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class AcceptFailureTest {

  @TempDir Path tmp;

  /** Logging was set up before: the failure and the recovery are in the server's log. */
  @Test
  void serverAcceptsAgainAfterRunningOutOfFileDescriptorsAndSaysSo() throws Exception {
    String log = starveAndRecover(true);
    assertTrue(log.contains("pipes: accept failed on") && log.contains("Too many open files"),
        "the server logged the accept failure:\n" + log);
    assertTrue(log.contains("again after"), "the server logged that it accepts again:\n" + log);
  }

  /**
   * Nothing had logged before: java.util.logging sets itself up lazily and cannot while descriptors
   * are short, so the message may be lost, but the failed logging must not end the accept loop.
   */
  @Test
  void serverAcceptsAgainAfterRunningOutOfFileDescriptorsEvenIfLoggingFails() throws Exception {
    starveAndRecover(false);
  }

  /** Returns the server's standard error. */
  private String starveAndRecover(boolean logFirst) throws Exception {
    Assumptions.assumeTrue(Files.isExecutable(Path.of("/bin/bash")), "needs bash for ulimit");
    byte[] key = "emfile-test-key-0123456789abcdef".getBytes(StandardCharsets.UTF_8);
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    ProcessBuilder pb = new ProcessBuilder("bash", "-c", "ulimit -n 128 && exec \"$0\" -cp \"$1\" "
        + FdStarvedServerMain.class.getName() + " \"$2\"", java, System.getProperty("java.class.path"),
        logFirst ? "--log-first" : "--quiet");
    pb.environment().put("PIPES_TEST_KEY", Base64.getEncoder().encodeToString(key));
    Path stderr = tmp.resolve("server.err");
    pb.redirectError(stderr.toFile());
    Process child = pb.start();
    List<Connection> clients = new ArrayList<>();
    try (Writer toChild = new OutputStreamWriter(child.getOutputStream(), StandardCharsets.UTF_8)) {
      BufferedReader fromChild = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8));
      String first = fromChild.readLine();
      assertNotNull(first, "the server JVM did not start");
      assertTrue(first.startsWith("address "), first);
      String address = first.substring("address ".length());
      PipesTransportProvider provider = new PipesTransportProvider();
      TransportOptions quick = new TransportOptions(key, 1 << 20, null,
          Map.of(PipesTransportProvider.HANDSHAKE_TIMEOUT_PROPERTY, "3000"));

      // Connect until the server can take no more: accept() fails and our handshake times out.
      boolean starved = false;
      for (int i = 0; i < 200 && !starved; i++) {
        try {
          clients.add(provider.connect(address, quick));
        } catch (SocketTimeoutException | java.io.EOFException e) {
          starved = true;
        }
      }
      assertTrue(starved, "the server never ran out of descriptors (" + clients.size() + " connections held)");
      int held = clients.size();

      toChild.write("release\n");
      toChild.flush();
      String released = fromChild.readLine();
      assertTrue(released != null && released.startsWith("released "), String.valueOf(released));
      for (Connection c : clients) {
        c.close();
      }
      clients.clear();

      // The loop retried meanwhile (back-off at most 1 s): a new client gets in well within its deadline.
      Connection again = provider.connect(address, new TransportOptions(key, 1 << 20, null,
          Map.of(PipesTransportProvider.HANDSHAKE_TIMEOUT_PROPERTY, "15000")));
      clients.add(again);
      System.out.printf("accept after EMFILE: the server held %d connections, then accepted again%n", held);
      toChild.write("quit\n");
      toChild.flush();
      assertTrue(child.waitFor(30, TimeUnit.SECONDS), "the server JVM did not exit");
      return Files.readString(stderr);
    } finally {
      for (Connection c : clients) {
        c.close();
      }
      child.destroyForcibly();
      child.waitFor(30, TimeUnit.SECONDS);
    }
  }
}
