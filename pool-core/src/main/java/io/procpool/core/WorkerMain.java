package io.procpool.core;

import io.procpool.api.spi.Connection;
import io.procpool.api.spi.TransportOptions;
import io.procpool.api.spi.TransportProvider;
import io.procpool.api.spi.TransportRegistry;
import io.procpool.core.internal.WorkerRuntime;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.util.Map;

/**
 * The main class of a worker JVM. The pool starts it as
 *
 * <pre>
 * java -cp &lt;classpath&gt; io.procpool.core.WorkerMain --transport pipes --connect &lt;address&gt;
 *      --worker-id N --parent-pid P [--max-frame-size BYTES]
 * </pre>
 *
 * <p>and writes the pool's auth key (Base64, one line) to its standard input, which it then keeps
 * open: the key never appears on a command line. The worker exits when its standard input reaches
 * end of file, when the parent process is gone, when its connection ends, or when the pool tells it
 * to.
 */
public final class WorkerMain {
  private WorkerMain() {}

  /**
   * Runs a worker.
   *
   * @param args the options above
   */
  public static void main(String[] args) {
    Map<String, String> opts;
    try {
      opts = parse(args);
    } catch (IllegalArgumentException e) {
      System.err.println("procpool worker: " + e.getMessage());
      System.exit(2);
      return;
    }
    InputStream stdin = System.in;
    System.setIn(new ByteArrayInputStream(new byte[0]));
    int code;
    try {
      code = run(opts, stdin);
    } catch (Throwable t) {
      System.err.println("procpool worker " + opts.getOrDefault("--worker-id", "?") + " failed: " + t);
      code = 1;
    }
    System.out.flush();
    System.err.flush();
    exit(code);
  }

  private static int run(Map<String, String> opts, InputStream stdin) throws Exception {
    String transport = require(opts, "--transport");
    String address = require(opts, "--connect");
    int workerId = Integer.parseInt(require(opts, "--worker-id"));
    int maxFrame = Integer.parseInt(opts.getOrDefault("--max-frame-size",
        Integer.toString(TransportOptions.DEFAULT_MAX_FRAME_SIZE)));
    byte[] key = ChildJvm.readSecret(stdin);
    if (opts.containsKey("--parent-pid")) {
      ChildJvm.exitWhenParentDies(Long.parseLong(opts.get("--parent-pid")), stdin);
    }
    TransportProvider provider = TransportRegistry.get(transport);
    Connection connection = provider.connect(address, new TransportOptions(key, maxFrame, null, Map.of()));
    boolean shutdown = new WorkerRuntime(connection, workerId, maxFrame, true).run();
    connection.close();
    return shutdown ? 0 : 1;
  }

  private static void exit(int code) {
    Thread watchdog = new Thread(() -> {
      try {
        Thread.sleep(5000);
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

  private static Map<String, String> parse(String[] args) {
    Map<String, String> opts = new java.util.HashMap<>();
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      if (!a.startsWith("--") || i + 1 >= args.length) {
        throw new IllegalArgumentException("bad arguments near '" + a
            + "'; usage: --transport NAME --connect ADDRESS --worker-id N [--parent-pid P] [--max-frame-size B]");
      }
      opts.put(a, args[++i]);
    }
    return opts;
  }
}
