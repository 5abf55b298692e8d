package io.procpool.core;

import io.procpool.api.cluster.WorkerCommand;
import io.procpool.api.spi.Connection;
import io.procpool.api.spi.TransportOptions;
import io.procpool.api.spi.TransportProvider;
import io.procpool.api.spi.TransportRegistry;
import io.procpool.core.internal.WorkerRuntime;
import io.procpool.core.internal.process.ChildArgs;
import io.procpool.core.internal.process.ChildMain;
import io.procpool.core.internal.process.ParentLink;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
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
 * <p>where {@code -cp CLASSPATH io.procpool.core.WorkerMain} follows the way the parent runs: its
 * classpath (with its class loaders' URLs under {@code mvn exec:java} or an IDE), its Spring Boot
 * executable jar through {@code PropertiesLauncher} and {@code -Dloader.main}, or its module path
 * with {@code -m io.procpool.core/io.procpool.core.WorkerMain} (see
 * {@code ProcessPool.Builder.workerClasspath}).
 *
 * <p>and writes its auth key (Base64, one line) and its transport properties (for example trust in
 * the pool's TLS certificate) to the worker's standard input, which then stays
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
 * <p>or, for an application on the module path,
 * {@code java -p MODULE_PATH --add-modules APP_MODULE -m io.procpool.core/io.procpool.core.WorkerMain ...}
 * (the application's module must be added: nothing requires it).
 *
 * <p>The key comes from {@code --auth-key-file} (a file holding the Base64 key) or the environment
 * variable {@code PROCPOOL_AUTH_KEY}; {@code --property} passes transport settings such as
 * {@code grpc.tls.trustCerts=/path/ca.pem}. Such a worker exits when its connection to the pool ends.
 *
 * <p>A worker placed by a cluster engine ({@code ProcessPool.Builder.cluster}) is started by the
 * engine's job with {@code --handover-file FILE} (the key and transport properties, written by the pool
 * with owner-only permissions) and the environment variable {@code PROCPOOL_LAUNCH_ID} (its job's id,
 * sent to the pool so that it knows which job connected). On {@code SIGUSR1} (which the engine sends
 * before the job's walltime) such a worker retires: it takes no new task, finishes the ones it holds,
 * exits, and the pool asks the engine for a replacement.
 *
 * <p>A bad command line is reported on stderr with the usage, and the worker exits with code 2.
 */
public final class WorkerMain {
  /** The environment variable that holds a hand-started worker's key, in Base64. */
  public static final String AUTH_KEY_ENV = "PROCPOOL_AUTH_KEY";

  private static final ChildArgs.Syntax SYNTAX = new ChildArgs.Syntax("--transport NAME --connect ADDRESS"
      + " [--worker-id N --parent-pid P] [--max-frame-size B] [--auth-key-file F | --handover-file F]"
      + " [--property K=V]...")
      .required("--transport", "--connect")
      .optional("--worker-id", ChildMain.PARENT_PID, "--max-frame-size", "--auth-key-file",
          WorkerCommand.HANDOVER_FILE_OPTION)
      .ints("--worker-id", "--max-frame-size")
      .longs(ChildMain.PARENT_PID)
      .properties();

  /** Room for shutdown hooks and a class-data archive dump before the exit watchdog halts the JVM. */
  private static final long HALT_AFTER_MILLIS = 30_000;

  private WorkerMain() {}

  /**
   * Runs a worker.
   *
   * @param args the options above
   */
  public static void main(String[] args) {
    ChildArgs parsed = ChildMain.parseOrExit("procpool worker", args, SYNTAX);
    ChildMain.run("procpool worker " + parsed.get("--worker-id", ""), parsed, HALT_AFTER_MILLIS, WorkerMain::run);
  }

  private static int run(ChildArgs args, ParentLink parent) throws Exception {
    int workerId = args.intValue("--worker-id", -1);
    int maxFrame = args.intValue("--max-frame-size", TransportOptions.DEFAULT_MAX_FRAME_SIZE);
    Map<String, String> properties = args.properties();
    byte[] key;
    if (parent != null) {
      ChildMain.Handover handover = ChildMain.receive(parent, args.longValue(ChildMain.PARENT_PID));
      key = handover.secret;
      // The pool's transport properties (e.g. trust in its TLS certificate) come the same way as the
      // key; a --property on the command line still wins.
      handover.properties.forEach(properties::putIfAbsent);
    } else if (args.has(WorkerCommand.HANDOVER_FILE_OPTION)) {
      ChildMain.Handover handover = ChildMain.readHandover(Path.of(args.get(WorkerCommand.HANDOVER_FILE_OPTION)));
      key = handover.secret;
      handover.properties.forEach(properties::putIfAbsent);
    } else {
      key = handStartedKey(args.get("--auth-key-file"));
    }
    String launchId = System.getenv(WorkerCommand.LAUNCH_ID_ENV);
    if (launchId != null && launchId.isBlank()) {
      launchId = null;
    }
    TransportProvider provider = TransportRegistry.get(args.get("--transport"));
    Connection connection = provider.connect(args.get("--connect"),
        new TransportOptions(key, maxFrame, null, properties));
    WorkerRuntime runtime = new WorkerRuntime(connection, workerId, maxFrame, true, launchId);
    if (launchId != null) {
      retireOnSignal(runtime);
    }
    boolean shutdown = runtime.run();
    connection.close();
    if (shutdown && ChildMain.writingClassDataArchive()) {
      runtime.rehearseTask(); // so that the archive every later worker maps covers a first task
    }
    return shutdown ? 0 : 1;
  }

  /** The engine's warning before the walltime (Slurm: {@code --signal=B:USR1@N}) retires the worker. */
  private static void retireOnSignal(WorkerRuntime runtime) {
    try {
      sun.misc.Signal.handle(new sun.misc.Signal("USR1"), s -> runtime.requestRetire());
    } catch (IllegalArgumentException e) {
      System.err.println("procpool worker: cannot handle SIGUSR1 (" + e.getMessage()
          + "); it will not retire before its job's walltime");
    }
  }

  private static byte[] handStartedKey(String file) throws IOException {
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
}
