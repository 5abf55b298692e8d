package io.procpool.reliability;

import org.junit.platform.launcher.TestExecutionListener;
import org.junit.platform.launcher.TestPlan;

/** Prints every summary line of the suite together when the test plan ends, so they appear in the build output. */
public final class SummaryListener implements TestExecutionListener {
  @Override
  public void testPlanExecutionFinished(TestPlan testPlan) {
    if (Rel.summaryLines().isEmpty()) {
      return;
    }
    StringBuilder sb = new StringBuilder("\n==== procpool reliability summary ====\n");
    for (String line : Rel.summaryLines()) {
      sb.append(line).append('\n');
    }
    sb.append("======================================");
    System.out.println(sb);
    System.out.flush();
  }
}
