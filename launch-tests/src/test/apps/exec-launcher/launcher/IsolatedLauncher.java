package launcher;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Runs an application the way {@code mvn exec:java} (and many IDE and server launchers) do: this JVM's
 * {@code java.class.path} holds only this launcher; the application and its dependencies are loaded by
 * a {@link URLClassLoader} whose parent is the platform class loader, and its {@code main} runs on a
 * new thread whose context class loader is that loader.
 *
 * <p>Arguments: {@code <application class path> <main class> [application arguments...]}. Exits 1
 * with the stack trace if {@code main} throws; otherwise returns when {@code main} returns.
 */
public final class IsolatedLauncher {
  private IsolatedLauncher() {}

  /**
   * Entry point.
   *
   * @param args {@code <class path> <main class> [arguments...]}
   * @throws Exception if the application cannot be loaded
   */
  public static void main(String[] args) throws Exception {
    if (args.length < 2) {
      System.err.println("usage: IsolatedLauncher <class path> <main class> [arguments...]");
      System.exit(2);
    }
    List<URL> urls = new ArrayList<>();
    for (String entry : args[0].split(java.io.File.pathSeparator)) {
      urls.add(Path.of(entry).toUri().toURL());
    }
    URLClassLoader loader = new URLClassLoader("application", urls.toArray(new URL[0]),
        ClassLoader.getPlatformClassLoader());
    Method main = Class.forName(args[1], false, loader).getMethod("main", String[].class);
    String[] appArgs = Arrays.copyOfRange(args, 2, args.length);
    AtomicReference<Throwable> failure = new AtomicReference<>();
    Thread thread = new Thread(() -> {
      try {
        main.invoke(null, (Object) appArgs);
      } catch (InvocationTargetException e) {
        failure.set(e.getCause());
      } catch (ReflectiveOperationException | RuntimeException e) {
        failure.set(e);
      }
    }, args[1] + ".main()");
    thread.setContextClassLoader(loader);
    thread.start();
    thread.join();
    if (failure.get() != null) {
      failure.get().printStackTrace();
      System.exit(1);
    }
  }
}
