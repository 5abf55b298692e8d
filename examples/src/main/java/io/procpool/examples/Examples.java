package io.procpool.examples;

import io.procpool.api.spi.TransportRegistry;
import java.util.List;

/**
 * Runs the seed's programs one after the other:
 *
 * <pre>
 * java -jar examples/target/examples.jar [--transport pipes|grpc|threads] [--items N] [apply-async|apply|async-get|manager-queue|progress]...
 * </pre>
 *
 * <p>{@code --items} is the number of items of {@code progress}: {@value ProgressDemo#DEFAULT_ITEMS} when
 * it is named, {@value ProgressDemo#ITEMS_IN_FULL_RUN} when every program runs.
 */
public final class Examples {
  /** Every program, in the order of a run without names. */
  private static final List<String> PROGRAMS = List.of("apply-async", "apply", "async-get", "manager-queue", "progress");

  private Examples() {}

  private static int parseItems(String value) {
    try {
      int n = Integer.parseInt(value);
      if (n > 0) {
        return n;
      }
    } catch (NumberFormatException e) {
      // reported below
    }
    System.err.println("--items needs a positive whole number, got '" + value + "'");
    System.exit(2);
    return -1;
  }

  /**
   * Entry point.
   *
   * @param args options as above; with no program named, all of them run
   */
  public static void main(String[] args) throws Exception {
    String transport = "pipes";
    int items = -1;
    List<String> programs = new java.util.ArrayList<>();
    for (int i = 0; i < args.length; i++) {
      if (args[i].equals("--transport") && i + 1 < args.length) {
        transport = args[++i];
      } else if (args[i].startsWith("--transport=")) {
        transport = args[i].substring("--transport=".length());
      } else if (args[i].equals("--items") && i + 1 < args.length) {
        items = parseItems(args[++i]);
      } else if (args[i].startsWith("--items=")) {
        items = parseItems(args[i].substring("--items=".length()));
      } else if (args[i].equals("--help") || args[i].equals("-h")) {
        System.out.println("usage: java -jar examples.jar [--transport NAME] [--items N] [" + String.join("|", PROGRAMS) + "]...");
        System.out.println("transports on the classpath: " + TransportRegistry.names());
        return;
      } else {
        programs.add(args[i]);
      }
    }
    boolean all = programs.isEmpty();
    if (all) {
      programs = PROGRAMS;
    }
    for (String p : programs) {
      System.out.println("===== " + p + " (transport " + transport + ") =====");
      switch (p) {
        case "apply-async":
          ApplyAsyncDemo.run(transport);
          break;
        case "apply":
          ApplyDemo.run(transport);
          break;
        case "async-get":
          AsyncGetDemo.run(transport);
          break;
        case "manager-queue":
          ManagerQueueDemo.run(transport);
          break;
        case "progress":
          ProgressDemo.run(transport,
              items > 0 ? items : all ? ProgressDemo.ITEMS_IN_FULL_RUN : ProgressDemo.DEFAULT_ITEMS);
          break;
        default:
          System.err.println("unknown program '" + p + "'; choose from " + String.join(", ", PROGRAMS));
          System.exit(2);
      }
    }
  }
}
