package io.procpool.examples;

import io.procpool.api.spi.TransportRegistry;
import java.util.List;

/**
 * Runs the seed's programs one after the other:
 *
 * <pre>
 * java -jar examples/target/examples.jar [--transport pipes|grpc|threads] [apply-async|apply|async-get|manager-queue]...
 * </pre>
 */
public final class Examples {
  private Examples() {}

  /**
   * Entry point.
   *
   * @param args options as above; with no program named, all of them run
   */
  public static void main(String[] args) throws Exception {
    String transport = "pipes";
    List<String> programs = new java.util.ArrayList<>();
    for (int i = 0; i < args.length; i++) {
      if (args[i].equals("--transport") && i + 1 < args.length) {
        transport = args[++i];
      } else if (args[i].startsWith("--transport=")) {
        transport = args[i].substring("--transport=".length());
      } else if (args[i].equals("--help") || args[i].equals("-h")) {
        System.out.println("usage: java -jar examples.jar [--transport NAME] [apply-async|apply|async-get|manager-queue]...");
        System.out.println("transports on the classpath: " + TransportRegistry.names());
        return;
      } else {
        programs.add(args[i]);
      }
    }
    if (programs.isEmpty()) {
      programs = List.of("apply-async", "apply", "async-get", "manager-queue");
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
        default:
          System.err.println("unknown program '" + p + "'; choose from apply-async, apply, async-get, manager-queue");
          System.exit(2);
      }
    }
  }
}
