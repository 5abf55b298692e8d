package io.procpool.api.spi;

import io.procpool.api.SerializableRunnable;
import io.procpool.api.cluster.Cluster;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.Executor;

/** The validated, immutable options of a pool, as {@link io.procpool.api.ProcessPool.Builder} collects them. */
public final class PoolOptions {
  private final int processes;
  private final String transport;
  private final SerializableRunnable initializer;
  private final int maxTasksPerChild;
  private final long maxMemoryPerChild;
  private final int retryOnCrash;
  private final Duration taskTimeout;
  private final List<String> jvmOptions;
  private final String workerClasspath;
  private final String codec;
  private final int maxFrameSize;
  private final String serialFilter;
  private final String listenAddress;
  private final byte[] authKey;
  private final Map<String, String> transportProperties;
  private final Executor callbackExecutor;
  private final Cluster cluster;
  private final int clusterWorkers;

  private PoolOptions(Builder b) {
    if (b.clusterWorkers != null && b.cluster == null) {
      throw new IllegalArgumentException("clusterWorkers(" + b.clusterWorkers + ") needs a cluster: set cluster(...)");
    }
    if (b.processes != null && b.processes == 0 && b.cluster == null) {
      throw new IllegalArgumentException("processes must be at least 1, got 0 (0 is allowed only with a cluster)");
    }
    this.cluster = b.cluster;
    this.clusterWorkers = b.clusterWorkers != null ? b.clusterWorkers : 0;
    // With a cluster the workers are the cluster's unless local ones are asked for.
    this.processes = b.processes != null ? b.processes
        : b.cluster != null ? 0 : Runtime.getRuntime().availableProcessors();
    if (processes + clusterWorkers == 0) {
      throw new IllegalArgumentException("a pool needs at least one worker: set clusterWorkers(n) (and/or processes(k))");
    }
    this.transport = b.transport != null ? b.transport : "pipes";
    this.initializer = b.initializer;
    this.maxTasksPerChild = b.maxTasksPerChild != null ? b.maxTasksPerChild : 0;
    this.maxMemoryPerChild = b.maxMemoryPerChild != null ? b.maxMemoryPerChild : 0;
    this.retryOnCrash = b.retryOnCrash != null ? b.retryOnCrash : 0;
    this.taskTimeout = b.taskTimeout;
    this.jvmOptions = b.jvmOptions != null ? b.jvmOptions : List.of();
    this.workerClasspath = b.workerClasspath;
    this.codec = b.codec != null ? b.codec : "java";
    this.maxFrameSize = b.maxFrameSize != null ? b.maxFrameSize : TransportOptions.DEFAULT_MAX_FRAME_SIZE;
    this.serialFilter = b.serialFilter;
    this.listenAddress = b.listenAddress;
    this.authKey = b.authKey;
    this.transportProperties = Map.copyOf(b.transportProperties);
    this.callbackExecutor = b.callbackExecutor;
  }

  /** A new builder. */
  public static Builder newBuilder() {
    return new Builder();
  }

  public int processes() {
    return processes;
  }

  public String transport() {
    return transport;
  }

  public Optional<SerializableRunnable> initializer() {
    return Optional.ofNullable(initializer);
  }

  /** Tasks per worker before it is replaced; 0 means unlimited. */
  public int maxTasksPerChild() {
    return maxTasksPerChild;
  }

  /** Resident memory, in bytes, past which a worker is replaced after its task; 0 means no cap. */
  public long maxMemoryPerChild() {
    return maxMemoryPerChild;
  }

  /** How many times a task whose worker crashed is run again; 0 means never. */
  public int retryOnCrash() {
    return retryOnCrash;
  }

  public Optional<Duration> taskTimeout() {
    return Optional.ofNullable(taskTimeout);
  }

  public List<String> jvmOptions() {
    return jvmOptions;
  }

  public Optional<String> workerClasspath() {
    return Optional.ofNullable(workerClasspath);
  }

  public String codec() {
    return codec;
  }

  public int maxFrameSize() {
    return maxFrameSize;
  }

  public Optional<String> serialFilter() {
    return Optional.ofNullable(serialFilter);
  }

  /** The configured auth key (a copy), if one was set. */
  public Optional<byte[]> authKey() {
    return Optional.ofNullable(authKey).map(byte[]::clone);
  }

  public Optional<String> listenAddress() {
    return Optional.ofNullable(listenAddress);
  }

  public Map<String, String> transportProperties() {
    return transportProperties;
  }

  /** Where callbacks, progress listeners and future views run, if the user chose. */
  public Optional<Executor> callbackExecutor() {
    return Optional.ofNullable(callbackExecutor);
  }

  /** The engine that places the pool's cluster workers, if any. */
  public Optional<Cluster> cluster() {
    return Optional.ofNullable(cluster);
  }

  /** How many workers the cluster keeps at first; 0 without a cluster. */
  public int clusterWorkers() {
    return clusterWorkers;
  }

  @Override
  public String toString() {
    return "PoolOptions{processes=" + processes + ", transport=" + transport + ", initializer="
        + (initializer != null) + ", maxTasksPerChild=" + maxTasksPerChild + ", maxMemoryPerChild=" + maxMemoryPerChild
        + ", retryOnCrash=" + retryOnCrash + ", taskTimeout=" + taskTimeout
        + ", jvmOptions=" + jvmOptions + ", codec=" + codec + ", maxFrameSize=" + maxFrameSize
        + (cluster != null ? ", cluster=" + cluster.name() + ", clusterWorkers=" + clusterWorkers : "") + "}";
  }

  /** Collects options; each may be set once, and each setter validates its value at once. */
  public static final class Builder {
    private Integer processes;
    private String transport;
    private SerializableRunnable initializer;
    private Integer maxTasksPerChild;
    private Long maxMemoryPerChild;
    private Integer retryOnCrash;
    private Duration taskTimeout;
    private List<String> jvmOptions;
    private String workerClasspath;
    private String codec;
    private Integer maxFrameSize;
    private String serialFilter;
    private String listenAddress;
    private byte[] authKey;
    private final Map<String, String> transportProperties = new LinkedHashMap<>();
    private Executor callbackExecutor;
    private Cluster cluster;
    private Integer clusterWorkers;

    private Builder() {}

    private static void once(Object current, String name) {
      if (current != null) {
        throw new IllegalStateException(name + " was already set to " + current);
      }
    }

    public Builder processes(int processes) {
      once(this.processes, "processes");
      if (processes < 0) {
        throw new IllegalArgumentException("processes must be at least 1 (or 0 with a cluster), got " + processes);
      }
      this.processes = processes;
      return this;
    }

    public Builder transport(String name) {
      once(this.transport, "transport");
      Objects.requireNonNull(name, "transport");
      if (name.isBlank()) {
        throw new IllegalArgumentException("transport name must not be blank");
      }
      this.transport = name;
      return this;
    }

    public Builder initializer(SerializableRunnable initializer) {
      once(this.initializer, "initializer");
      this.initializer = Objects.requireNonNull(initializer, "initializer");
      return this;
    }

    public Builder maxTasksPerChild(int maxTasks) {
      once(this.maxTasksPerChild, "maxTasksPerChild");
      if (maxTasks < 1) {
        throw new IllegalArgumentException("maxTasksPerChild must be at least 1, got " + maxTasks);
      }
      this.maxTasksPerChild = maxTasks;
      return this;
    }

    public Builder maxMemoryPerChild(long bytes) {
      once(this.maxMemoryPerChild, "maxMemoryPerChild");
      if (bytes < 1024 * 1024) {
        throw new IllegalArgumentException("maxMemoryPerChild must be at least 1 MiB, got " + bytes + " bytes");
      }
      this.maxMemoryPerChild = bytes;
      return this;
    }

    public Builder retryOnCrash(int retries) {
      once(this.retryOnCrash, "retryOnCrash");
      if (retries < 1) {
        throw new IllegalArgumentException("retryOnCrash must be at least 1, got " + retries);
      }
      this.retryOnCrash = retries;
      return this;
    }

    public Builder taskTimeout(Duration timeout) {
      once(this.taskTimeout, "taskTimeout");
      Objects.requireNonNull(timeout, "taskTimeout");
      if (timeout.isNegative() || timeout.isZero()) {
        throw new IllegalArgumentException("taskTimeout must be positive, got " + timeout);
      }
      this.taskTimeout = timeout;
      return this;
    }

    public Builder jvmOptions(List<String> options) {
      once(this.jvmOptions, "jvmOptions");
      for (String o : options) {
        if (o == null || o.isBlank()) {
          throw new IllegalArgumentException("jvmOptions must not contain null or blank entries: " + options);
        }
      }
      this.jvmOptions = List.copyOf(options);
      return this;
    }

    public Builder workerClasspath(String classpath) {
      once(this.workerClasspath, "workerClasspath");
      this.workerClasspath = Objects.requireNonNull(classpath, "workerClasspath");
      return this;
    }

    public Builder codec(String name) {
      once(this.codec, "codec");
      this.codec = Objects.requireNonNull(name, "codec");
      return this;
    }

    public Builder maxFrameSize(int bytes) {
      once(this.maxFrameSize, "maxFrameSize");
      if (bytes < 1024) {
        throw new IllegalArgumentException("maxFrameSize must be at least 1024 bytes, got " + bytes);
      }
      this.maxFrameSize = bytes;
      return this;
    }

    public Builder serialFilter(String pattern) {
      once(this.serialFilter, "serialFilter");
      Objects.requireNonNull(pattern, "serialFilter");
      java.io.ObjectInputFilter.Config.createFilter(pattern); // validates the syntax now
      this.serialFilter = pattern;
      return this;
    }

    /** Where the transport listens (e.g. {@code 0.0.0.0:7000} for workers on other hosts). */
    public Builder listenAddress(String address) {
      once(this.listenAddress, "listenAddress");
      this.listenAddress = Objects.requireNonNull(address, "listenAddress");
      return this;
    }

    /** The auth key; at least 16 bytes. */
    public Builder authKey(byte[] key) {
      once(this.authKey == null ? null : "(a key)", "authKey");
      Objects.requireNonNull(key, "authKey");
      if (key.length < 16) {
        throw new IllegalArgumentException("authKey must be at least 16 bytes, got " + key.length);
      }
      this.authKey = key.clone();
      return this;
    }

    /** A transport-specific setting; each key may be set once. */
    public Builder transportProperty(String key, String value) {
      Objects.requireNonNull(key, "key");
      Objects.requireNonNull(value, "value");
      once(transportProperties.get(key), "transport property " + key);
      transportProperties.put(key, value);
      return this;
    }

    /** Where callbacks, progress listeners and future views run. */
    public Builder callbackExecutor(Executor executor) {
      once(this.callbackExecutor, "callbackExecutor");
      this.callbackExecutor = Objects.requireNonNull(executor, "callbackExecutor");
      return this;
    }

    /** The engine that places cluster workers. */
    public Builder cluster(Cluster cluster) {
      once(this.cluster == null ? null : this.cluster.name(), "cluster");
      this.cluster = Objects.requireNonNull(cluster, "cluster");
      return this;
    }

    /** How many workers the cluster keeps ({@code >= 0}). */
    public Builder clusterWorkers(int workers) {
      once(this.clusterWorkers, "clusterWorkers");
      if (workers < 0) {
        throw new IllegalArgumentException("clusterWorkers must be at least 0, got " + workers);
      }
      this.clusterWorkers = workers;
      return this;
    }

    public PoolOptions build() {
      return new PoolOptions(this);
    }
  }
}
