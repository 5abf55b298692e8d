package io.procpool.manager;

import io.procpool.api.Manager;
import io.procpool.api.ManagerUnreachableException;
import io.procpool.api.spi.ManagerFactory;
import io.procpool.api.spi.ManagerOptions;
import io.procpool.api.spi.TransportRegistry;
import io.procpool.core.internal.process.ChildJvm;
import io.procpool.core.internal.process.LaunchPlan;
import io.procpool.core.internal.process.PropertyLines;
import io.procpool.manager.internal.ManagerClient;
import io.procpool.manager.internal.ManagerHandle;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * The {@link ManagerFactory} of {@code io.procpool:manager-queue}, found by
 * {@link java.util.ServiceLoader}.
 *
 * <p>Starting a manager: this JVM makes a fresh 32-byte auth key and a private ({@code 0700})
 * temporary directory, starts {@link ManagerMain} with {@link ChildJvm} (the key goes through its
 * standard input), and waits until the manager has written its address to a file in that
 * directory; then it removes the directory and connects. The transport chooses the listening
 * address unless {@code listenAddress} was set, so this works for every transport (a UNIX socket in
 * its own private directory for {@code pipes}, a free loopback port for {@code grpc}).
 */
public final class DefaultManagerFactory implements ManagerFactory {
  private static final long START_TIMEOUT_NANOS = TimeUnit.SECONDS.toNanos(30);
  private static final SecureRandom RANDOM = new SecureRandom();

  /** Creates the factory; called by {@link java.util.ServiceLoader}. */
  public DefaultManagerFactory() {}

  @Override
  public Manager start(ManagerOptions options) {
    String transport = options.transport();
    TransportRegistry.get(transport); // unknown transport: fail here, with the registry's message
    byte[] key = new byte[32];
    RANDOM.nextBytes(key);
    Path dir;
    try {
      dir = privateDirectory();
    } catch (IOException e) {
      throw new ManagerUnreachableException("cannot create a temporary directory for the manager: " + e, null, e);
    }
    Path addressFile = dir.resolve("address");
    ChildJvm jvm = null;
    try {
      List<String> args = new ArrayList<>(List.of("--transport", transport,
          "--parent-pid", Long.toString(ProcessHandle.current().pid()),
          "--address-file", addressFile.toString()));
      if (options.listenAddress().isPresent()) {
        args.add("--listen");
        args.add(options.listenAddress().get());
      }
      LaunchPlan plan;
      try {
        plan = LaunchPlan.detect(options.classpath().orElse(null), "Manager.builder().classpath(...)");
        plan.check(ManagerMain.class, TransportRegistry.get(transport).getClass());
      } catch (IllegalStateException e) {
        throw new ManagerUnreachableException("cannot start the manager process: " + e.getMessage(), null, e);
      }
      jvm = ChildJvm.start("procpool-manager", ManagerMain.class, plan,
          io.procpool.core.internal.DefaultProcessPool.childJvmOptions(TransportRegistry.get(transport),
              options.jvmOptions()), args, key, options.transportProperties());
      List<String> lines = awaitAddress(jvm, addressFile, plan);
      String address = lines.get(0).trim();
      int colon = address.indexOf(':');
      // What the manager's server says a client needs (e.g. trust in its TLS certificate), never the
      // user's server-side settings: queue proxies carry these wherever they are serialized.
      Map<String, String> clientProperties = new HashMap<>();
      for (String line : lines.subList(1, lines.size())) {
        Map.Entry<String, String> property = PropertyLines.parse(line);
        if (property != null) {
          clientProperties.putIfAbsent(property.getKey(), property.getValue());
        }
      }
      ManagerClient client = ManagerClient.of(address.substring(0, colon), address.substring(colon + 1), key,
          clientProperties);
      client.ensureConnected();
      return new ManagerHandle(client, jvm);
    } catch (IOException | RuntimeException e) {
      if (jvm != null) {
        jvm.kill();
      }
      if (e instanceof ManagerUnreachableException) {
        throw (ManagerUnreachableException) e;
      }
      throw new ManagerUnreachableException("could not start the manager process: " + e.getMessage(), null, e);
    } finally {
      deleteQuietly(addressFile);
      deleteQuietly(addressFile.resolveSibling("address.tmp"));
      deleteQuietly(dir);
    }
  }

  @Override
  public Manager connect(String transport, String transportAddress, byte[] authKey) {
    return connect(transport, transportAddress, authKey, Map.of());
  }

  @Override
  public Manager connect(String transport, String transportAddress, byte[] authKey,
      Map<String, String> transportProperties) {
    ManagerClient client = ManagerClient.of(transport, transportAddress, authKey, transportProperties);
    client.ensureConnected();
    return new ManagerHandle(client, null);
  }

  private static List<String> awaitAddress(ChildJvm jvm, Path addressFile, LaunchPlan plan) throws IOException {
    long deadline = System.nanoTime() + START_TIMEOUT_NANOS;
    while (true) {
      if (Files.exists(addressFile)) {
        return Files.readAllLines(addressFile, StandardCharsets.UTF_8);
      }
      if (jvm.onExit().isDone()) {
        String tail = jvm.stderrTail();
        throw new ManagerUnreachableException("the manager process exited with code " + jvm.onExit().join()
            + " before listening; it was started with " + plan.description()
            + (LaunchPlan.couldNotLoadClass(tail) ? ", and could not load a class: " + plan.fixHint() : "")
            + (tail.isEmpty() ? "" : "; its stderr:\n" + tail), null, null);
      }
      if (System.nanoTime() > deadline) {
        throw new ManagerUnreachableException("the manager process (pid " + jvm.pid() + ") did not start listening within "
            + TimeUnit.NANOSECONDS.toSeconds(START_TIMEOUT_NANOS) + " s", null, null);
      }
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(5));
    }
  }

  private static Path privateDirectory() throws IOException {
    try {
      return Files.createTempDirectory("procpool-manager-",
          PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
    } catch (UnsupportedOperationException e) {
      return Files.createTempDirectory("procpool-manager-");
    }
  }

  private static void deleteQuietly(Path p) {
    try {
      Files.deleteIfExists(p);
    } catch (IOException ignored) {
      // a leftover empty temporary directory at worst
    }
  }
}
