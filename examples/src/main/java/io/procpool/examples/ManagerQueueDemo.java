package io.procpool.examples;

import io.procpool.api.ManagedQueue;
import io.procpool.api.Manager;
import io.procpool.api.ProcessPool;

/**
 * The seed's fourth program: a writer and a reader in a pool share a queue hosted by a manager
 * process (a pool's workers cannot share a plain in-memory queue).
 *
 * <pre>{@code
 * def write(q):
 *     print('write启动{}, 父进程为{}'.format(os.getpid(), os.getppid()))
 *     for i in ["Python", 'C', 'Java']:
 *         q.put(i)
 *
 * def read(q):
 *     print('read启动{}, 父进程为{}'.format(os.getpid(), os.getppid()))
 *     for i in range(q.qsize()):
 *         msg = q.get(True)
 *         print("取出{}".format(msg))
 *
 * q = multiprocessing.Manager().Queue()
 * po = multiprocessing.Pool()
 * po.apply(write, (q,))
 * po.apply(read, (q,))
 * po.close()
 * po.join()
 * print("{} End".format(os.getpid()))
 * }</pre>
 */
public final class ManagerQueueDemo {
  private ManagerQueueDemo() {}

  static Void write(ManagedQueue<String> q) {
    System.out.println("write启动" + pid() + ", 父进程为" + ppid());
    for (String i : new String[] {"Python", "C", "Java"}) {
      q.put(i);
    }
    return null;
  }

  static Void read(ManagedQueue<String> q) {
    System.out.println("read启动" + pid() + ", 父进程为" + ppid());
    for (int i = 0, n = q.qsize(); i < n; i++) {
      String msg = q.get();
      System.out.println("取出" + msg);
    }
    return null;
  }

  private static long pid() {
    return ProcessHandle.current().pid();
  }

  private static long ppid() {
    return ProcessHandle.current().parent().map(ProcessHandle::pid).orElse(-1L);
  }

  /**
   * Runs the program; the manager uses the same transport as the pool (with {@code threads}, whose
   * workers are threads, the manager still needs a process and uses {@code pipes}).
   */
  public static void run(String transport) {
    String managerTransport = transport.equals("threads") ? "pipes" : transport;
    try (Manager manager = Manager.builder().transport(managerTransport).build()) {
      ManagedQueue<String> q = manager.queue();
      ProcessPool po = ProcessPool.builder().transport(transport).build();
      po.apply(ManagerQueueDemo::write, q); // blocking: the writer finishes before the reader starts
      po.apply(ManagerQueueDemo::read, q);
      po.close();
      po.join();
      System.out.println(pid() + " End");
    }
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
