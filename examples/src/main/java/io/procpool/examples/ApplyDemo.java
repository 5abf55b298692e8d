package io.procpool.examples;

import io.procpool.api.ProcessPool;

/**
 * The seed's second program: {@code apply}, blocking. The same ten tasks, one after the other: each
 * {@code apply} returns only when its task is done, so {@code ---start-----} prints at the end.
 *
 * <pre>{@code
 * pool = multiprocessing.Pool(3)
 * for i in range(10):
 *     pool.apply(worker, (i,))
 * print('---start-----')
 * pool.close()
 * pool.join()
 * print('---end-----')
 * }</pre>
 */
public final class ApplyDemo {
  private ApplyDemo() {}

  /** Runs the program with the given transport. */
  public static void run(String transport) {
    ProcessPool pool = ProcessPool.builder().processes(3).transport(transport).build();
    for (int i = 0; i < 10; i++) {
      int msg = i;
      pool.apply(() -> ApplyAsyncDemo.worker(msg)); // blocking: waits for the task
    }
    System.out.println("---start-----");
    pool.close();
    pool.join();
    System.out.println("---end-----");
  }

  /**
   * Entry point.
   *
   * @param args {@code [transport]}, default {@code pipes}
   */
  public static void main(String[] args) {
    run(args.length > 0 ? args[0] : "pipes");
  }
}
