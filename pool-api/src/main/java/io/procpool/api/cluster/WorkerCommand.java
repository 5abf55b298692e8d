package io.procpool.api.cluster;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * How a pool's worker is started on a cluster node, as the pool hands it to {@link Cluster#open}:
 *
 * <pre>
 * JAVA JVM_OPTIONS -cp CLASSPATH MAIN_CLASS ARGUMENTS --handover-file FILE
 * </pre>
 *
 * <p>with the environment variable {@link #LAUNCH_ID_ENV} set to the job's launch id. {@code FILE} holds
 * the pool's secret: the auth key and the transport properties workers connect with (e.g. trust in the
 * pool's TLS certificate), as {@link #handover(Map)} encodes them. The session must write it with
 * owner-only permissions in a directory only the owner can enter, on a file system the nodes see,
 * never into the job's script, command line or environment (the engine stores those), and delete it
 * when the session closes.
 *
 * <p>The classpath entries, and transport properties whose value is the absolute path of a file (such
 * as a trusted certificate), are paths on the pool's machine: the session makes them visible on the
 * nodes (for example by copying those not on a shared file system) and rewrites the command
 * accordingly.
 */
public final class WorkerCommand {
  /** The environment variable through which a cluster worker learns its launch id. */
  public static final String LAUNCH_ID_ENV = "PROCPOOL_LAUNCH_ID";
  /** The worker option naming the handover file. */
  public static final String HANDOVER_FILE_OPTION = "--handover-file";

  private final String jobName;
  private final Path java;
  private final List<String> jvmOptions;
  private final List<Path> classpath;
  private final String mainClass;
  private final List<String> arguments;
  private final byte[] authKey;
  private final Map<String, String> transportProperties;

  /**
   * @param jobName the name every job of this pool gets, unique to the pool ({@code procpool-...}),
   *     so that forgotten jobs can be found
   * @param java the {@code java} executable to run (by default the pool's own, which must then exist
   *     at the same path on the nodes)
   * @param jvmOptions JVM options, before the classpath
   * @param classpath the worker's classpath entries, as paths on the pool's machine
   * @param mainClass the class to run
   * @param arguments its arguments, without {@link #HANDOVER_FILE_OPTION}
   * @param authKey the pool's auth key
   * @param transportProperties the properties workers connect with
   */
  public WorkerCommand(String jobName, Path java, List<String> jvmOptions, List<Path> classpath, String mainClass,
      List<String> arguments, byte[] authKey, Map<String, String> transportProperties) {
    this.jobName = Objects.requireNonNull(jobName, "jobName");
    this.java = Objects.requireNonNull(java, "java");
    this.jvmOptions = List.copyOf(jvmOptions);
    this.classpath = List.copyOf(classpath);
    this.mainClass = Objects.requireNonNull(mainClass, "mainClass");
    this.arguments = List.copyOf(arguments);
    this.authKey = authKey.clone();
    this.transportProperties = Map.copyOf(transportProperties);
  }

  /** The name of every job of this pool, e.g. {@code procpool-4242-1}. */
  public String jobName() {
    return jobName;
  }

  /** The {@code java} executable. */
  public Path java() {
    return java;
  }

  /** JVM options, placed before the classpath. */
  public List<String> jvmOptions() {
    return jvmOptions;
  }

  /** Classpath entries, as paths on the pool's machine. */
  public List<Path> classpath() {
    return classpath;
  }

  /** The main class. */
  public String mainClass() {
    return mainClass;
  }

  /** The main class's arguments, without the handover file option. */
  public List<String> arguments() {
    return arguments;
  }

  /** The main class's arguments followed by {@code --handover-file handoverFile}. */
  public List<String> arguments(String handoverFile) {
    List<String> all = new ArrayList<>(arguments);
    all.add(HANDOVER_FILE_OPTION);
    all.add(handoverFile);
    return all;
  }

  /** The transport properties workers connect with, as paths on the pool's machine. */
  public Map<String, String> transportProperties() {
    return transportProperties;
  }

  /** The handover with this command's own transport properties. */
  public byte[] handover() {
    return handover(transportProperties);
  }

  /**
   * The bytes of the handover file: the auth key, then {@code properties} (the transport properties,
   * with file paths rewritten as the nodes see them). The format is procpool's own; workers read it
   * with {@link #HANDOVER_FILE_OPTION}.
   */
  public byte[] handover(Map<String, String> properties) {
    Base64.Encoder b64 = Base64.getEncoder();
    StringBuilder s = new StringBuilder(b64.encodeToString(authKey)).append('\n');
    new LinkedHashMap<>(properties).forEach((k, v) -> s.append(b64.encodeToString(k.getBytes(StandardCharsets.UTF_8)))
        .append(' ').append(b64.encodeToString(v.getBytes(StandardCharsets.UTF_8))).append('\n'));
    return s.append('\n').toString().getBytes(StandardCharsets.US_ASCII);
  }

  @Override
  public String toString() {
    // Never the key.
    return "WorkerCommand{job " + jobName + ", " + java + " " + String.join(" ", jvmOptions) + " -cp "
        + classpath.size() + " entries " + mainClass + " " + String.join(" ", arguments) + "}";
  }
}
