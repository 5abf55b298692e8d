package io.procpool.examples;

import io.procpool.api.ProcessPool;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The seed's first program: {@code apply_async}, non-blocking. Ten tasks on a pool of three
 * processes: {@code ---start-----} prints at once, then at most three tasks run at a time, each in a
 * worker process whose pid it prints.
 *
 * <pre>{@code
 * pool = multiprocessing.Pool(3)
 * for i in range(10):
 *     pool.apply_async(worker, (i,))
 * print('---start-----')
 * pool.close()
 * pool.join()
 * print('---end-----')
 * }</pre>
 */
public final class ApplyAsyncDemo {
  private ApplyAsyncDemo() {}

  /** The task: prints when it starts and how long it took; runs in a worker process. */
  static void worker(int msg) throws InterruptedException {
    long start = System.nanoTime();
    System.out.println(msg + " 开始执行, 进程号为 " + ProcessHandle.current().pid());
    Thread.sleep((long) (ThreadLocalRandom.current().nextDouble() * 1000));
    System.out.println(msg + " 执行完毕,耗时" + (System.nanoTime() - start) / 1e9);
  }

  /** Runs the program with the given transport. */
  public static void run(String transport) {
    ProcessPool pool = ProcessPool.builder().processes(3).transport(transport).build();
    for (int i = 0; i < 10; i++) {
      int msg = i;
      pool.applyAsync(() -> worker(msg)); // non-blocking: returns at once
    }
    System.out.println("---start-----");
    pool.close(); // no more tasks; waits for the submitted ones and the workers' exit
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
