package io.procpool.api;

import io.procpool.api.spi.ManagerFactory;
import io.procpool.api.spi.ManagerOptions;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A manager process that hosts {@link ManagedQueue}s shared between processes: Python's
 * {@code multiprocessing.Manager()}.
 *
 * <pre>{@code
 * try (Manager manager = Manager.start();                     // spawns the manager JVM
 *      ProcessPool pool = ProcessPool.create()) {
 *   ManagedQueue<String> q = manager.queue();                 // unbounded
 *   pool.apply(Demo::write, q);                               // the proxy is Serializable
 *   pool.apply(Demo::read, q);
 * }
 * }</pre>
 *
 * <p>{@link #start()} starts a manager JVM that listens on the chosen transport ({@code "pipes"} by
 * default) and exits when this JVM dies. {@link #connect(String, byte[])} attaches to a running
 * manager given its {@link #address()} and {@link #authKey()}. Implemented by the
 * {@code io.procpool:manager-queue} artifact, which must be on the classpath.
 *
 * <p>Thread-safe. Queues are created in the manager process. An anonymous queue is freed when no
 * proxy references it any more; a named queue lives until {@link #deleteQueue(String)} (see
 * {@link ManagedQueue} for the rule). Creating or connecting to a manager registers its key in this
 * JVM, where deserialized queue proxies find it (they carry only a fingerprint of it).
 */
public interface Manager extends AutoCloseable {

  /**
   * Starts a manager process with the default settings (transport {@code "pipes"}).
   *
   * @throws ManagerUnreachableException if the manager process could not be started or reached
   * @throws IllegalStateException if {@code io.procpool:manager-queue} is not on the classpath
   */
  static Manager start() {
    return builder().build();
  }

  /** A builder for a manager process with non-default settings. */
  static Builder builder() {
    return new Builder();
  }

  /**
   * Connects to a running manager.
   *
   * @param address the manager's {@link #address()}, which names its transport, e.g.
   *     {@code "pipes:/tmp/procpool-123/pool.sock"}
   * @param authKey the manager's {@link #authKey()}
   * @throws ManagerUnreachableException if the manager cannot be reached or refuses the key
   * @throws IllegalArgumentException if the address does not start with a transport name and
   *     {@code ':'}, or names a transport that is not on the classpath
   */
  static Manager connect(String address, byte[] authKey) {
    Objects.requireNonNull(address, "address");
    int colon = address.indexOf(':');
    if (colon <= 0) {
      throw new IllegalArgumentException("a manager address is '<transport>:<transport address>', e.g. "
          + "'pipes:/tmp/procpool-1/pool.sock'; got '" + address + "'");
    }
    return connect(address.substring(0, colon), address.substring(colon + 1), authKey);
  }

  /**
   * Connects to a running manager with transport settings, e.g. the certificate to trust when the
   * manager listens with TLS ({@code grpc.tls.trustCerts}); the names are those of
   * {@link Builder#transportProperty(String, String)}. A proxy of this manager passed to other processes
   * carries these settings (they are file names and options, never secrets).
   *
   * @param address the manager's {@link #address()}, e.g. {@code "grpc:manager-host:7001"}
   * @param authKey the manager's {@link #authKey()}
   * @param transportProperties transport settings for this client
   * @throws ManagerUnreachableException if the manager cannot be reached or refuses the key
   * @throws IllegalArgumentException if the address does not start with a transport name and
   *     {@code ':'}, or names a transport that is not on the classpath
   */
  static Manager connect(String address, byte[] authKey, Map<String, String> transportProperties) {
    Objects.requireNonNull(address, "address");
    Objects.requireNonNull(authKey, "authKey");
    Objects.requireNonNull(transportProperties, "transportProperties");
    int colon = address.indexOf(':');
    if (colon <= 0) {
      throw new IllegalArgumentException("a manager address is '<transport>:<transport address>', e.g. "
          + "'grpc:manager-host:7001'; got '" + address + "'");
    }
    return ManagerFactory.load().connect(address.substring(0, colon), address.substring(colon + 1),
        authKey.clone(), Map.copyOf(transportProperties));
  }

  /**
   * Connects to a running manager given its transport and the transport-level address.
   *
   * @param transport the transport name, e.g. {@code "pipes"} or {@code "grpc"}
   * @param transportAddress the address as the transport understands it, e.g. a socket path or
   *     {@code host:port}
   * @param authKey the manager's {@link #authKey()}
   * @throws ManagerUnreachableException if the manager cannot be reached or refuses the key
   */
  static Manager connect(String transport, String transportAddress, byte[] authKey) {
    Objects.requireNonNull(transport, "transport");
    Objects.requireNonNull(transportAddress, "transportAddress");
    Objects.requireNonNull(authKey, "authKey");
    return ManagerFactory.load().connect(transport, transportAddress, authKey.clone());
  }

  /** A new unbounded anonymous queue. */
  <E> ManagedQueue<E> queue();

  /**
   * A new anonymous queue holding at most {@code maxsize} items; zero or less means unbounded.
   */
  <E> ManagedQueue<E> queue(int maxsize);

  /**
   * The queue named {@code name}, created unbounded if it does not exist yet. Every client of the
   * manager that asks for the same name gets the same queue, whatever bound it was created with.
   *
   * @throws IllegalArgumentException if {@code name} is empty
   */
  <E> ManagedQueue<E> queue(String name);

  /**
   * The queue named {@code name}, created with {@code maxsize} if it does not exist yet.
   *
   * @throws IllegalArgumentException if {@code name} is empty, or the queue exists with another
   *     bound
   */
  <E> ManagedQueue<E> queue(String name, int maxsize);

  /**
   * Deletes the queue named {@code name}: its items are dropped, calls waiting on it fail, and every
   * proxy of it fails from now on with {@link IllegalStateException}. A later {@link #queue(String)}
   * with that name creates a new, empty queue. Named queues are never freed otherwise.
   *
   * @return whether a queue of that name existed
   * @throws IllegalArgumentException if {@code name} is empty
   * @throws ManagerUnreachableException if the manager is gone
   */
  boolean deleteQueue(String name);

  /**
   * Where clients reach the manager: {@code "<transport>:<transport address>"}, e.g.
   * {@code "pipes:/tmp/procpool-123/pool.sock"} or {@code "grpc:127.0.0.1:41234"}; pass it to
   * {@link #connect(String, byte[])}.
   */
  String address();

  /** A copy of the manager's auth key, which every connection must prove. Keep it secret. */
  byte[] authKey();

  /**
   * For a manager this JVM {@link #start() started}: asks the manager process to shut down, waits
   * for it to exit and kills it if it has not exited within a few seconds. Calls still blocked on
   * its queues, here or in other processes, fail with {@link ManagerUnreachableException}. For a
   * manager obtained with {@link #connect}: only this handle is closed; the manager keeps running and
   * queue proxies keep working. Idempotent.
   */
  @Override
  void close();

  /**
   * Configures a manager process. Each setting may be set once and is validated at once.
   */
  final class Builder {
    private String transport;
    private List<String> jvmOptions;
    private String listenAddress;
    private String classpath;
    private final Map<String, String> transportProperties = new LinkedHashMap<>();

    Builder() {}

    /**
     * The transport by name: {@code "pipes"} (default) or {@code "grpc"} or any provider on the
     * classpath; the same names as {@code ProcessPool.builder().transport(name)}.
     */
    public Builder transport(String name) {
      Objects.requireNonNull(name, "transport");
      if (name.isBlank()) {
        throw new IllegalArgumentException("transport must not be blank");
      }
      if (name.equals("threads")) {
        throw new IllegalArgumentException("the manager is a separate process: transport 'threads' cannot "
            + "reach it; use 'pipes' or 'grpc'");
      }
      once(transport, "transport");
      this.transport = name;
      return this;
    }

    /** Extra JVM options for the manager JVM, such as {@code -Xmx1g}. */
    public Builder jvmOptions(String... options) {
      Objects.requireNonNull(options, "jvmOptions");
      once(jvmOptions, "jvmOptions");
      List<String> list = new ArrayList<>();
      for (String o : options) {
        list.add(Objects.requireNonNull(o, "jvmOptions element"));
      }
      this.jvmOptions = List.copyOf(list);
      return this;
    }

    /**
     * Where the manager listens, as the transport understands it: for {@code "pipes"} a socket path
     * whose directory exists (default: a socket in a fresh private temporary directory); for
     * {@code "grpc"} {@code host:port} (default: loopback, a free port).
     */
    public Builder listenAddress(String address) {
      Objects.requireNonNull(address, "listenAddress");
      if (address.isBlank()) {
        throw new IllegalArgumentException("listenAddress must not be blank");
      }
      once(listenAddress, "listenAddress");
      this.listenAddress = address;
      return this;
    }

    /**
     * A transport-specific setting, with the same names as {@code ProcessPool.builder()
     * .transportProperty(key, value)}: for {@code "grpc"} the {@code grpc.tls.*} files, so that the
     * manager listens with TLS (its own clients, in this JVM and in workers, then trust its
     * certificate without further settings), and {@code allowPlaintext} to let it listen off
     * loopback without TLS. Handed to the manager process privately, never on its command line.
     * Each key may be set once.
     */
    public Builder transportProperty(String key, String value) {
      Objects.requireNonNull(key, "key");
      Objects.requireNonNull(value, "value");
      once(transportProperties.get(key), "transport property " + key);
      transportProperties.put(key, value);
      return this;
    }

    /**
     * The classpath of the manager JVM. By default the manager starts the way this JVM runs, like a
     * pool's workers (see {@code ProcessPool.Builder.workerClasspath}): its {@code java.class.path},
     * the class loaders that loaded procpool ({@code mvn exec:java}, IDEs), a Spring Boot executable
     * jar, or the module path. Set it when that detection does not fit.
     */
    public Builder classpath(String classpath) {
      Objects.requireNonNull(classpath, "classpath");
      once(this.classpath, "classpath");
      this.classpath = classpath;
      return this;
    }

    /**
     * Starts the manager process and connects to it.
     *
     * @throws ManagerUnreachableException if it could not be started or reached
     * @throws IllegalArgumentException if the transport is not on the classpath
     * @throws IllegalStateException if {@code io.procpool:manager-queue} is not on the classpath
     */
    public Manager build() {
      ManagerOptions options = new ManagerOptions(
          transport == null ? "pipes" : transport,
          jvmOptions == null ? List.of() : jvmOptions,
          listenAddress,
          classpath,
          transportProperties);
      return ManagerFactory.load().start(options);
    }

    private static void once(Object current, String name) {
      if (current != null) {
        throw new IllegalStateException(name + " was already set");
      }
    }
  }
}
