package app;

import io.procpool.api.ManagedQueue;
import java.time.Duration;

/**
 * What the workers run. It lives in the application, so a worker can only run it if it loads the
 * application's classes the way the application itself was launched.
 */
public final class Work {
  private Work() {}

  /** The square of {@code x}: the function {@code map} sends to the workers. */
  public static int square(int x) {
    return x * x;
  }

  /** The pid of the process running this: a worker's pid when run as a task. */
  public static long pid() {
    return ProcessHandle.current().pid();
  }

  /**
   * Puts {@code "sq" + square(n)} on {@code ready}, then blocks until the parent puts a token on
   * {@code go}. Two of these running at once prove that two distinct workers run application code
   * and reach the manager.
   *
   * @return this worker's pid
   */
  public static long rendezvous(ManagedQueue<String> ready, ManagedQueue<String> go, int n) {
    ready.put("sq" + square(n));
    go.get(Duration.ofSeconds(60));
    return pid();
  }
}
