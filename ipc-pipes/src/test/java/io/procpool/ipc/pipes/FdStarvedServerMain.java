package io.procpool.ipc.pipes;

import io.procpool.api.spi.Connection;
import io.procpool.api.spi.TransportOptions;
import io.procpool.api.spi.TransportServer;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;

/**
 * A pipes server in its own JVM, run by {@link AcceptFailureTest} under a small descriptor limit. It
 * holds every connection it accepts (unstarted: one descriptor each) until told on stdin to
 * {@code release} them; {@code quit} ends it. Prints its address, then one line per command.
 */
public final class FdStarvedServerMain {
  private FdStarvedServerMain() {}

  public static void main(String[] args) throws Exception {
    byte[] key = Base64.getDecoder().decode(System.getenv("PIPES_TEST_KEY"));
    if (args.length > 0 && args[0].equals("--log-first")) {
      // As in an application that has logged before: logging is set up while descriptors are plenty.
      System.getLogger(FdStarvedServerMain.class.getName()).log(System.Logger.Level.INFO, "server JVM started");
    }
    List<Connection> held = new ArrayList<>();
    TransportServer server = new PipesTransportProvider().listen(
        new TransportOptions(key, 1 << 20, null, Map.of()), c -> {
          synchronized (held) {
            held.add(c);
          }
        });
    System.out.println("address " + server.address());
    System.out.flush();
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    for (String line; (line = in.readLine()) != null; ) {
      if (line.equals("release")) {
        int n;
        synchronized (held) {
          n = held.size();
          held.forEach(Connection::close);
          held.clear();
        }
        System.out.println("released " + n);
        System.out.flush();
      } else if (line.equals("quit")) {
        break;
      }
    }
    server.close();
    System.exit(0);
  }
}
