package io.procpool.cluster.slurm;

import io.procpool.api.cluster.Cluster;
import io.procpool.api.cluster.ClusterProvider;
import java.nio.file.Path;
import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The {@code "slurm"} cluster engine for {@link io.procpool.api.cluster.ClusterRegistry}: a
 * {@link SlurmCluster} from properties, each the {@link SlurmCluster.Builder} setter of the same name:
 *
 * <ul>
 *   <li>{@code stagingDir} (required): a path;
 *   <li>{@code partition}, {@code memoryPerWorker} (e.g. {@code 2G}): as given;
 *   <li>{@code cpusPerWorker}: a whole number;
 *   <li>{@code time}, {@code retireBefore}, {@code pendingGrace}: a duration, either ISO-8601 ({@code PT8H}) or a whole
 *       number with a unit {@code s}, {@code m}, {@code h} or {@code d} ({@code 90m});
 *   <li>{@code sbatchArgs}: options separated by white space (so no option value may contain any);
 *   <li>{@code exportEnv}: variable names separated by white space or commas;
 *   <li>{@code java}, {@code commands}: paths; {@code classpathStaging}: {@code AUTO}, {@code ALWAYS}
 *       or {@code NEVER}.
 * </ul>
 *
 * <p>Any other key is an error.
 */
public final class SlurmClusterProvider implements ClusterProvider {
  /** The property keys understood. */
  public static final Set<String> KEYS = Set.of("partition", "cpusPerWorker", "memoryPerWorker", "time", "stagingDir",
      "sbatchArgs", "java", "classpathStaging", "retireBefore", "pendingGrace", "exportEnv", "commands");
  private static final Pattern SIMPLE_DURATION = Pattern.compile("([0-9]+)\\s*([smhd])");

  /** For {@link java.util.ServiceLoader}. */
  public SlurmClusterProvider() {}

  /** {@code "slurm"}. */
  @Override
  public String name() {
    return "slurm";
  }

  /**
   * A Slurm cluster configured by {@code properties}.
   *
   * @throws IllegalArgumentException if a key is unknown or a value invalid (naming it), or
   *     {@code stagingDir} is missing
   */
  @Override
  public Cluster create(Map<String, String> properties) {
    Set<String> unknown = new TreeSet<>(properties.keySet());
    unknown.removeAll(KEYS);
    if (!unknown.isEmpty()) {
      throw new IllegalArgumentException("unknown slurm cluster propert" + (unknown.size() == 1 ? "y " : "ies ")
          + String.join(", ", unknown) + "; known: " + String.join(", ", new TreeSet<>(KEYS)));
    }
    if (!properties.containsKey("stagingDir")) {
      throw new IllegalArgumentException("the slurm cluster needs the property stagingDir: a directory every node sees at the same path");
    }
    SlurmCluster.Builder b = SlurmCluster.builder();
    for (Map.Entry<String, String> e : new java.util.TreeMap<>(properties).entrySet()) {
      String k = e.getKey();
      String v = e.getValue() == null ? "" : e.getValue().strip();
      try {
        switch (k) {
          case "partition": b.partition(v); break;
          case "cpusPerWorker": b.cpusPerWorker(Integer.parseInt(v)); break;
          case "memoryPerWorker": b.memoryPerWorker(v); break;
          case "time": b.time(duration(v)); break;
          case "stagingDir": b.stagingDir(Path.of(v)); break;
          case "sbatchArgs": b.sbatchArgs(v.isEmpty() ? new String[0] : v.split("\\s+")); break;
          case "java": b.java(Path.of(v)); break;
          case "classpathStaging": b.classpathStaging(SlurmCluster.ClasspathStaging.valueOf(v.toUpperCase(Locale.ROOT))); break;
          case "retireBefore": b.retireBefore(duration(v)); break;
          case "pendingGrace": b.pendingGrace(duration(v)); break;
          case "exportEnv": b.exportEnv(v.isEmpty() ? new String[0] : v.split("[\\s,]+")); break;
          case "commands": b.commands(Path.of(v)); break;
          default: throw new AssertionError(k);
        }
      } catch (IllegalArgumentException ex) {
        throw new IllegalArgumentException("slurm cluster property " + k + "='" + v + "': " + ex.getMessage(), ex);
      }
    }
    try {
      return b.build();
    } catch (IllegalStateException ex) {
      throw new IllegalArgumentException(ex.getMessage(), ex);
    }
  }

  /** {@code PT8H}, or {@code 90m}, {@code 30s}, {@code 8h}, {@code 2d}. */
  static Duration duration(String v) {
    Matcher m = SIMPLE_DURATION.matcher(v);
    if (m.matches()) {
      long n = Long.parseLong(m.group(1));
      switch (m.group(2)) {
        case "s": return Duration.ofSeconds(n);
        case "m": return Duration.ofMinutes(n);
        case "h": return Duration.ofHours(n);
        default: return Duration.ofDays(n);
      }
    }
    try {
      return Duration.parse(v);
    } catch (DateTimeParseException e) {
      throw new IllegalArgumentException("not a duration: use ISO-8601 (PT8H) or a number with s, m, h or d (90m)");
    }
  }
}
