package io.procpool.manager;

import io.procpool.api.spi.TransportOptions;
import io.procpool.api.spi.TransportProvider;
import io.procpool.api.spi.TransportRegistry;
import io.procpool.api.spi.TransportServer;
import io.procpool.core.internal.process.ChildArgs;
import io.procpool.core.internal.process.ChildJvm;
import io.procpool.core.internal.process.ChildMain;
import io.procpool.core.internal.process.ParentLink;
import io.procpool.core.internal.process.PropertyLines;
import io.procpool.manager.internal.ManagerServer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * The main class of a manager JVM. {@code Manager.start()} runs it as
 *
 * <pre>
 * java -cp &lt;classpath&gt; io.procpool.manager.ManagerMain --transport pipes --parent-pid P
 *      --address-file FILE [--listen ADDRESS] [--max-frame-size BYTES]
 * </pre>
 *
 * <p>and writes the auth key (Base64, one line) and the transport properties to its standard input,
 * which it keeps open (see {@link ChildJvm}). The manager listens on the transport (at
 * {@code ADDRESS}, or the transport's private default) with those properties, writes
 * {@code "<transport>:<address>"} to {@code FILE} (atomically, in the parent's private directory),
 * followed by the properties a client needs to reach it (one per line, key and value in Base64: see
 * {@link TransportServer#clientProperties()}) and serves until a client sends SHUTDOWN. It exits within about a
 * second when its parent dies. It prints nothing on stdout; errors go to stderr (a bad command line
 * with the usage, and exit code 2).
 */
public final class ManagerMain {
  private static final ChildArgs.Syntax SYNTAX = new ChildArgs.Syntax("--transport NAME "
      + "--parent-pid P --address-file FILE [--listen ADDRESS] [--max-frame-size B]")
      .required("--transport", ChildMain.PARENT_PID, "--address-file")
      .optional("--listen", "--max-frame-size")
      .ints("--max-frame-size")
      .longs(ChildMain.PARENT_PID);

  /** How long shutdown hooks get before the exit watchdog halts the JVM. */
  private static final long HALT_AFTER_MILLIS = 5000;

  private ManagerMain() {}

  /**
   * Runs a manager.
   *
   * @param args the options above
   */
  public static void main(String[] args) {
    ChildMain.run("procpool manager", ChildMain.parseOrExit("procpool manager", args, SYNTAX), HALT_AFTER_MILLIS,
        ManagerMain::run);
  }

  private static int run(ChildArgs args, ParentLink parent) throws Exception {
    String transport = args.get("--transport");
    Path addressFile = Path.of(args.get("--address-file"));
    int maxFrame = args.intValue("--max-frame-size", TransportOptions.DEFAULT_MAX_FRAME_SIZE);
    ChildMain.Handover handover = ChildMain.receive(parent, args.longValue(ChildMain.PARENT_PID));
    TransportProvider provider = TransportRegistry.get(transport);
    ManagerServer manager = new ManagerServer(maxFrame);
    TransportServer server = provider.listen(
        new TransportOptions(handover.secret, maxFrame, args.get("--listen"), handover.properties), manager);
    try {
      Path tmp = addressFile.resolveSibling(addressFile.getFileName() + ".tmp");
      // Line 1: where clients connect; then what a client needs besides the key (no secrets).
      StringBuilder content = new StringBuilder(transport).append(':').append(server.address()).append('\n');
      PropertyLines.append(content, server.clientProperties());
      Files.writeString(tmp, content, StandardCharsets.UTF_8);
      Files.move(tmp, addressFile, StandardCopyOption.ATOMIC_MOVE);
      manager.awaitShutdown();
    } finally {
      server.close();
    }
    return 0;
  }
}
