package io.procpool.examples;

import io.procpool.api.AsyncResult;
import io.procpool.api.ProcessPool;
import java.util.ArrayList;
import java.util.List;

/**
 * The seed's third program: {@code apply_async} with a callback, then {@code get()} of every result in
 * submission order. Ten two-second tasks on five processes take about four seconds.
 *
 * <pre>{@code
 * pool = multiprocessing.Pool(5)
 * for i in range(10):
 *     res = pool.apply_async(func=foo1, args=(i,), callback=bar)
 *     res_list.append(res)
 * pool.close()
 * pool.join()
 * for res in res_list:
 *     print(res.get())
 * }</pre>
 */
public final class AsyncGetDemo {
  private AsyncGetDemo() {}

  /** The task: sleeps two seconds and returns {@code i + 100}. */
  static int foo1(int i) throws InterruptedException {
    Thread.sleep(2000);
    return i + 100;
  }

  /** The callback: receives each result in the parent, as it arrives. */
  static int bar(int arg) {
    return arg;
  }

  /** Runs the program with the given transport. */
  public static void run(String transport) throws Exception {
    List<AsyncResult<Integer>> results = new ArrayList<>();
    long start = System.nanoTime();
    ProcessPool pool = ProcessPool.builder().processes(5).transport(transport).build();
    for (int i = 0; i < 10; i++) {
      // the result of foo1 becomes the argument of the callback
      results.add(pool.applyAsync(AsyncGetDemo::foo1, i, AsyncGetDemo::bar, null));
    }
    pool.close();
    pool.join();
    for (AsyncResult<Integer> res : results) {
      System.out.println(res.get());
    }
    System.out.println("the program time is " + (System.nanoTime() - start) / 1e9);
  }

  /**
   * Entry point.
   *
   * @param args {@code [transport]}, default {@code pipes}
   */
  public static void main(String[] args) throws Exception {
    run(args.length > 0 ? args[0] : "pipes");
  }
}
