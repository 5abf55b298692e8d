package io.procpool.core;

import io.procpool.api.spi.Connection;
import io.procpool.api.spi.TransportOptions;
import io.procpool.api.spi.TransportProvider;
import io.procpool.api.spi.TransportRegistry;
import io.procpool.core.internal.WorkerRuntime;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The main class of a worker JVM.
 *
 * <p>A pool starts its own workers as
 *
 * <pre>
 * java -cp CLASSPATH io.procpool.core.WorkerMain --transport NAME --connect ADDRESS
 *      --worker-id N --parent-pid P [--max-frame-size BYTES]
 * </pre>
 *
 * <p>and writes its auth key (Base64, one line) and its transport properties (for example trust in
 * the pool's TLS certificate; see {@link ChildJvm}) to the worker's standard input, which then stays
 * open: neither appears on a command line, and the worker exits when the parent dies.
 *
 * <p>A worker started by hand, for example on another host, joins a pool that listens on a reachable
 * address ({@code ProcessPool.Builder.listenAddress}):
 *
 * <pre>
 * PROCPOOL_AUTH_KEY=&lt;Base64 key&gt; java -cp APP_CLASSPATH io.procpool.core.WorkerMain \
 *      --transport grpc --connect pool-host:7000 [--auth-key-file FILE] [--property KEY=VALUE]...
 * </pre>
 *
 * <p>The key comes from {@code --auth-key-file} (a file holding the Base64 key) or the environment
 * variable {@code PROCPOOL_AUTH_KEY}; {@code --property} passes transport settings such as
 * {@code grpc.tls.trustCerts=/path/ca.pem}. Such a worker exits when its connection to the pool ends.
 */
public final class WorkerMain {
  /** The environment variable that holds a hand-started worker's key, in Base64. */
  public static final String AUTH_KEY_ENV = "PROCPOOL_AUTH_KEY";

  private WorkerMain() {}

  /**
   * Runs a worker.
   *
   * @param args the options above
   */
  public static void main(String[] args) {
    Map<String, String> opts = new HashMap<>();
    Map<String, String> properties = new LinkedHashMap<>();
    try {
      parse(args, opts, properties);
    } catch (IllegalArgumentException e) {
      System.err.println("procpool worker: " + e.getMessage());
      System.exit(2);
      return;
    }
    ChildJvm.ParentLink parent = opts.containsKey("--parent-pid") ? ChildJvm.parentLink() : null;
    System.setIn(new ByteArrayInputStream(new byte[0]));
    int code;
    try {
      code = run(opts, properties, parent);
    } catch (Throwable t) {
      System.err.println("procpool worker " + opts.getOrDefault("--worker-id", "") + " failed: " + t);
      code = 1;
    }
    System.out.flush();
    System.err.flush();
    if (parent != null) {
      parent.close();
    }
    exit(code);
  }

  private static int run(Map<String, String> opts, Map<String, String> properties, ChildJvm.ParentLink parent)
      throws Exception {
    String transport = require(opts, "--transport");
    String address = require(opts, "--connect");
    int workerId = Integer.parseInt(opts.getOrDefault("--worker-id", "-1"));
    int maxFrame = Integer.parseInt(opts.getOrDefault("--max-frame-size",
        Integer.toString(TransportOptions.DEFAULT_MAX_FRAME_SIZE)));
    byte[] key;
    if (parent != null) {
      key = parent.readSecret();
      // The pool's transport properties (e.g. trust in its TLS certificate) come the same way as the
      // key; a --property on the command line still wins.
      parent.readProperties().forEach(properties::putIfAbsent);
      parent.exitWhenParentDies(Long.parseLong(opts.get("--parent-pid")));
    } else {
      key = handStartedKey(opts);
    }
    TransportProvider provider = TransportRegistry.get(transport);
    Connection connection = provider.connect(address, new TransportOptions(key, maxFrame, null, properties));
    boolean shutdown = new WorkerRuntime(connection, workerId, maxFrame, true).run();
    connection.close();
    return shutdown ? 0 : 1;
  }

  private static byte[] handStartedKey(Map<String, String> opts) throws IOException {
    String file = opts.get("--auth-key-file");
    String encoded = file != null
        ? new String(Files.readAllBytes(Path.of(file)), StandardCharsets.US_ASCII)
        : System.getenv(AUTH_KEY_ENV);
    if (encoded == null || encoded.isBlank()) {
      throw new IllegalArgumentException("no auth key: set " + AUTH_KEY_ENV
          + " (Base64) or pass --auth-key-file FILE");
    }
    try {
      return Base64.getDecoder().decode(encoded.trim());
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("the auth key is not valid Base64", e);
    }
  }

  private static void exit(int code) {
    Thread watchdog = new Thread(() -> {
      try {
        Thread.sleep(30_000); // room for shutdown hooks and a class-data archive dump
      } catch (InterruptedException ignored) {
        // halt anyway
      }
      Runtime.getRuntime().halt(code);
    }, "procpool-exit-watchdog");
    watchdog.setDaemon(true);
    watchdog.start();
    System.exit(code);
  }

  private static String require(Map<String, String> opts, String name) {
    String v = opts.get(name);
    if (v == null) {
      throw new IllegalArgumentException("missing option " + name);
    }
    return v;
  }

  private static void parse(String[] args, Map<String, String> opts, Map<String, String> properties) {
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      if (!a.startsWith("--") || i + 1 >= args.length) {
        throw new IllegalArgumentException("bad arguments near '" + a + "'; usage: --transport NAME --connect ADDRESS"
            + " [--worker-id N --parent-pid P] [--max-frame-size B] [--auth-key-file F] [--property K=V]...");
      }
      String v = args[++i];
      if (a.equals("--property")) {
        int eq = v.indexOf('=');
        if (eq <= 0) {
          throw new IllegalArgumentException("--property needs KEY=VALUE, got '" + v + "'");
        }
        properties.put(v.substring(0, eq), v.substring(eq + 1));
      } else {
        opts.put(a, v);
      }
    }
  }
}
