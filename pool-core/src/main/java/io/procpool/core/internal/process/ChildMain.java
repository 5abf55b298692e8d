package io.procpool.core.internal.process;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.util.Map;

/**
 * The entry path a child's main class shares with the others ({@code WorkerMain}, {@code ManagerMain}):
 *
 * <pre>
 * ChildArgs args = ChildMain.parseOrExit("procpool worker", argv, SYNTAX);
 * ChildMain.run("procpool worker 3", args, 30_000, (a, parent) -&gt; {
 *   ChildMain.Handover h = ChildMain.receive(parent, a.longValue("--parent-pid"));
 *   ... return exit code;
 * });
 * </pre>
 *
 * <p>A bad command line prints {@code "<program>: <what is wrong>; usage: ..."} on stderr and exits
 * with 2. {@link #run} opens the {@link ParentLink} when the command line has {@code --parent-pid},
 * replaces {@code System.in} by an empty stream (standard input belongs to the link), runs the body,
 * reports a throwable as {@code "<who> failed: <throwable>"} (exit code 1), closes the link and exits;
 * should shutdown hooks hang, a watchdog halts the JVM with the same code after the given grace.
 */
public final class ChildMain {
  /** The option that names the parent's pid; with it, the child is linked to its parent. */
  public static final String PARENT_PID = "--parent-pid";

  private ChildMain() {}

  /**
   * Whether this JVM writes a class-data archive when it exits (see {@code ClassDataArchive}): the
   * archive then serves later children, so it should hold the classes of their usual first steps.
   */
  public static boolean writingClassDataArchive() {
    return Boolean.getBoolean(ClassDataArchive.DUMPING_PROPERTY);
  }

  /** The body of a child's main. */
  @FunctionalInterface
  public interface Body {
    /**
     * Runs the child.
     *
     * @param args its command line
     * @param parent the link to the parent, or {@code null} without {@code --parent-pid}
     * @return the exit code
     */
    int run(ChildArgs args, ParentLink parent) throws Exception;
  }

  /** What the parent handed over on standard input. */
  public static final class Handover {
    /** The auth key. */
    public final byte[] secret;
    /** The transport properties, in the parent's order; a mutable map. */
    public final Map<String, String> properties;

    Handover(byte[] secret, Map<String, String> properties) {
      this.secret = secret;
      this.properties = properties;
    }
  }

  /**
   * Parses the command line, or prints what is wrong with it and exits with code 2.
   *
   * @param program names the child in the message, e.g. {@code procpool worker}
   */
  public static ChildArgs parseOrExit(String program, String[] argv, ChildArgs.Syntax syntax) {
    try {
      return ChildArgs.parse(argv, syntax);
    } catch (IllegalArgumentException e) {
      System.err.println(program + ": " + e.getMessage());
      System.err.flush();
      System.exit(2);
      throw e; // not reached
    }
  }

  /**
   * Reads the secret and the transport properties from the parent, then halts this JVM when the parent
   * dies ({@link ParentLink#exitWhenParentDies}).
   */
  public static Handover receive(ParentLink parent, long parentPid) throws IOException {
    byte[] secret = parent.readSecret();
    Map<String, String> properties = parent.readProperties();
    parent.exitWhenParentDies(parentPid);
    return new Handover(secret, properties);
  }

  /**
   * Reads a handover file (the secret, then the transport properties, in the format a parent writes to
   * a child's standard input): how a worker placed by a cluster engine gets its key.
   */
  public static Handover readHandover(java.nio.file.Path file) throws IOException {
    try (java.io.InputStream in = new java.io.BufferedInputStream(java.nio.file.Files.newInputStream(file))) {
      byte[] secret = ParentLink.readSecret(in);
      return new Handover(secret, ParentLink.readProperties(in));
    } catch (java.nio.file.NoSuchFileException e) {
      throw new IOException("the handover file " + file + " does not exist (the pool closed, or the staging"
          + " directory is not shared with this node)", e);
    }
  }

  /**
   * Runs a child's body and exits with its code; never returns.
   *
   * @param who names the child in a failure message, e.g. {@code procpool worker 3}
   * @param haltAfterMillis how long shutdown hooks (and a class-data archive dump) get before the JVM
   *     is halted
   */
  public static void run(String who, ChildArgs args, long haltAfterMillis, Body body) {
    ParentLink parent = args.has(PARENT_PID) ? ParentLink.open() : null;
    System.setIn(new ByteArrayInputStream(new byte[0]));
    int code;
    try {
      code = body.run(args, parent);
    } catch (Throwable t) {
      System.err.println(who + " failed: " + t);
      code = 1;
    }
    System.out.flush();
    System.err.flush();
    if (parent != null) {
      parent.close();
    }
    exit(code, haltAfterMillis);
  }

  private static void exit(int code, long haltAfterMillis) {
    Thread watchdog = new Thread(() -> {
      try {
        Thread.sleep(haltAfterMillis);
      } catch (InterruptedException ignored) {
        // halt anyway
      }
      Runtime.getRuntime().halt(code);
    }, "procpool-exit-watchdog");
    watchdog.setDaemon(true);
    watchdog.start();
    System.exit(code);
  }
}
