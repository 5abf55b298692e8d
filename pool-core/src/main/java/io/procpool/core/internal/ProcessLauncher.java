package io.procpool.core.internal;

import io.procpool.core.WorkerMain;
import io.procpool.core.internal.process.ChildJvm;
import io.procpool.core.internal.process.LaunchPlan;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/** Starts worker JVMs (see {@link ChildJvm} for the conventions) running {@code WorkerMain}. */
final class ProcessLauncher implements WorkerLauncher {
  private final String transport;
  private final LaunchPlan plan;
  private final List<String> jvmOptions;
  private final byte[] authKey;
  private final int maxFrameSize;
  private final Map<String, String> properties;

  /**
   * @param properties the transport properties each worker connects with (the pool's own plus what its
   *     server says a local client needs, e.g. trust in its TLS certificate); handed over on standard
   *     input with the key, never on the command line
   */
  ProcessLauncher(String transport, LaunchPlan plan, List<String> jvmOptions, byte[] authKey, int maxFrameSize,
      Map<String, String> properties) {
    this.transport = transport;
    this.plan = plan;
    this.jvmOptions = jvmOptions;
    this.authKey = authKey.clone();
    this.maxFrameSize = maxFrameSize;
    this.properties = Map.copyOf(properties);
  }

  @Override
  public Launched launch(int workerId, String address) throws IOException {
    List<String> options = new java.util.ArrayList<>(jvmOptions.size() + 1);
    options.add("-Dprocpool.worker=" + workerId);
    options.addAll(jvmOptions);
    ChildJvm jvm = ChildJvm.start("procpool-worker-" + workerId, WorkerMain.class, plan, options,
        List.of("--transport", transport, "--connect", address, "--worker-id", Integer.toString(workerId),
            "--parent-pid", Long.toString(ProcessHandle.current().pid()),
            "--max-frame-size", Integer.toString(maxFrameSize)),
        authKey, properties);
    return new Launched() {
      @Override
      public long pid() {
        return jvm.pid();
      }

      @Override
      public CompletableFuture<Integer> onExit() {
        return jvm.onExit();
      }

      @Override
      public void kill() {
        jvm.kill();
      }

      @Override
      public String stderrTail() {
        return jvm.stderrTail();
      }

      @Override
      public String launchDescription() {
        return plan.description();
      }

      @Override
      public String launchFix() {
        return plan.fixHint();
      }
    };
  }
}
