package io.procpool.benchmarks;

import io.procpool.api.spi.TransportRegistry;

/**
 * Prints the transports found on the classpath, comma-separated, so that scripts can pass {@code -p
 * transport=...} with only those: {@code java -cp benchmarks/target/benchmarks.jar
 * io.procpool.benchmarks.ListTransports}.
 */
public final class ListTransports {
  private ListTransports() {}

  public static void main(String[] args) {
    System.out.println(String.join(",", TransportRegistry.names()));
  }
}
