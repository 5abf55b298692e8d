package io.procpool.cluster.slurm.testing;

import org.junit.jupiter.api.extension.ConditionEvaluationResult;
import org.junit.jupiter.api.extension.ExecutionCondition;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * The condition behind {@link SlurmTest}. What it does depends on the environment variable
 * {@value #MODE_VARIABLE}:
 *
 * <ul>
 *   <li>unset or empty: the test runs if the Slurm test cluster answers, else it is skipped with the
 *       reason;
 *   <li>{@code required}: the test runs if the cluster answers, else it <em>fails</em> with the reason,
 *       the variable's name and the script that brings the cluster up (CI sets this);
 *   <li>{@code off}: every Slurm test is skipped.
 * </ul>
 *
 * Any other value fails the test. The cluster is probed once per JVM ({@link SlurmTestCluster#probe()}).
 */
public final class SlurmCondition implements ExecutionCondition {

  /** The environment variable that says whether Slurm tests are required, optional or off. */
  public static final String MODE_VARIABLE = "PROCPOOL_SLURM_TESTS";

  /** The script, relative to the repository, that brings the Slurm test cluster up (as root). */
  public static final String UP_SCRIPT = "cluster-slurm/src/test/slurm/up.sh";

  @Override
  public ConditionEvaluationResult evaluateExecutionCondition(ExtensionContext context) {
    String mode = System.getenv(MODE_VARIABLE);
    if ("off".equals(mode)) {
      return ConditionEvaluationResult.disabled(MODE_VARIABLE + "=off: Slurm tests are switched off");
    }
    return evaluate(mode, SlurmTestCluster.probe());
  }

  /**
   * The decision for a mode (the variable's value, or {@code null}) and a probe result: enabled,
   * disabled, or an {@link IllegalStateException} (which fails the test).
   */
  static ConditionEvaluationResult evaluate(String mode, SlurmTestCluster.Probe probe) {
    boolean required;
    if (mode == null || mode.isEmpty()) {
      required = false;
    } else if (mode.equals("required")) {
      required = true;
    } else if (mode.equals("off")) {
      return ConditionEvaluationResult.disabled(MODE_VARIABLE + "=off: Slurm tests are switched off");
    } else {
      throw new IllegalStateException(
          MODE_VARIABLE + " is '" + mode + "'; use 'required' (fail when Slurm is not usable), 'off' (skip"
              + " Slurm tests) or leave it unset (run them when Slurm answers)");
    }
    if (probe.usable()) {
      return ConditionEvaluationResult.enabled("Slurm test cluster answers: " + probe.detail());
    }
    if (required) {
      throw new IllegalStateException(
          MODE_VARIABLE + "=required but the Slurm test cluster is not usable: " + probe.detail()
              + ". Bring it up as root with " + UP_SCRIPT + " (or unset " + MODE_VARIABLE
              + " to skip Slurm tests)");
    }
    return ConditionEvaluationResult.disabled(
        "Slurm test cluster not usable (" + probe.detail() + "); bring it up as root with " + UP_SCRIPT
            + ", set " + MODE_VARIABLE + "=required to fail instead of skipping");
  }
}
