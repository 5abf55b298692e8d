package io.procpool.manager;

import io.procpool.api.spi.TransportOptions;
import io.procpool.api.spi.TransportProvider;
import io.procpool.api.spi.TransportRegistry;
import io.procpool.api.spi.TransportServer;
import io.procpool.core.ChildJvm;
import io.procpool.manager.internal.ManagerServer;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Base64;
import java.util.HashMap;
import java.util.Map;

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
 * second when its parent dies. It prints nothing on stdout; errors go to stderr.
 */
public final class ManagerMain {
  private ManagerMain() {}

  /**
   * Runs a manager.
   *
   * @param args the options above
   */
  public static void main(String[] args) {
    ChildJvm.ParentLink parent = ChildJvm.parentLink();
    System.setIn(new ByteArrayInputStream(new byte[0]));
    int code;
    try {
      code = run(parse(args), parent);
    } catch (Throwable t) {
      System.err.println("procpool manager failed: " + t);
      code = 1;
    }
    System.err.flush();
    parent.close();
    Thread watchdog = new Thread(() -> {
      try {
        Thread.sleep(5000);
      } catch (InterruptedException ignored) {
        // halt anyway
      }
      Runtime.getRuntime().halt(1);
    }, "procpool-exit-watchdog");
    watchdog.setDaemon(true);
    watchdog.start();
    System.exit(code);
  }

  private static int run(Map<String, String> opts, ChildJvm.ParentLink parent) throws Exception {
    String transport = require(opts, "--transport");
    Path addressFile = Path.of(require(opts, "--address-file"));
    int maxFrame = Integer.parseInt(opts.getOrDefault("--max-frame-size",
        Integer.toString(TransportOptions.DEFAULT_MAX_FRAME_SIZE)));
    byte[] key = parent.readSecret();
    Map<String, String> properties = parent.readProperties();
    parent.exitWhenParentDies(Long.parseLong(require(opts, "--parent-pid")));
    TransportProvider provider = TransportRegistry.get(transport);
    ManagerServer manager = new ManagerServer(maxFrame);
    TransportServer server = provider.listen(
        new TransportOptions(key, maxFrame, opts.get("--listen"), properties), manager);
    try {
      Path tmp = addressFile.resolveSibling(addressFile.getFileName() + ".tmp");
      // Line 1: where clients connect; then what a client needs besides the key (no secrets).
      StringBuilder content = new StringBuilder(transport).append(':').append(server.address()).append('\n');
      Base64.Encoder b64 = Base64.getEncoder();
      server.clientProperties().forEach((k, v) -> content.append(b64.encodeToString(k.getBytes(StandardCharsets.UTF_8)))
          .append(' ').append(b64.encodeToString(v.getBytes(StandardCharsets.UTF_8))).append('\n'));
      Files.writeString(tmp, content, StandardCharsets.UTF_8);
      Files.move(tmp, addressFile, StandardCopyOption.ATOMIC_MOVE);
      manager.awaitShutdown();
    } finally {
      server.close();
    }
    return 0;
  }

  private static String require(Map<String, String> opts, String name) {
    String v = opts.get(name);
    if (v == null) {
      throw new IllegalArgumentException("missing option " + name);
    }
    return v;
  }

  private static Map<String, String> parse(String[] args) {
    Map<String, String> opts = new HashMap<>();
    for (int i = 0; i < args.length; i++) {
      if (!args[i].startsWith("--") || i + 1 >= args.length) {
        throw new IllegalArgumentException("bad arguments near '" + args[i] + "'; usage: --transport NAME "
            + "--parent-pid P --address-file FILE [--listen ADDRESS] [--max-frame-size B]");
      }
      opts.put(args[i], args[++i]);
    }
    return opts;
  }
}
