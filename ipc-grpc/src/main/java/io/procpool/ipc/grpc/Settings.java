package io.procpool.ipc.grpc;

import java.util.Map;

/** Settings and connect timing, from the {@code grpc.*} transport properties. */
final class Settings {
  static final String TIME = "grpc.keepAliveTimeMillis";
  static final String TIMEOUT = "grpc.keepAliveTimeoutMillis";
  static final String CONNECT_TIMEOUT = "grpc.connectTimeoutMillis";

  final long timeMillis;
  final long timeoutMillis;
  final long connectTimeoutMillis;

  private Settings(long timeMillis, long timeoutMillis, long connectTimeoutMillis) {
    this.timeMillis = timeMillis;
    this.timeoutMillis = timeoutMillis;
    this.connectTimeoutMillis = connectTimeoutMillis;
  }

  static Settings of(Map<String, String> p) {
    return new Settings(millis(p, TIME, 20_000), millis(p, TIMEOUT, 10_000), millis(p, CONNECT_TIMEOUT, 20_000));
  }

  private static long millis(Map<String, String> p, String key, long dflt) {
    String v = p.get(key);
    if (v == null) {
      return dflt;
    }
    try {
      long m = Long.parseLong(v.trim());
      if (m <= 0) {
        throw new IllegalArgumentException("grpc: " + key + " must be positive, got " + v);
      }
      return m;
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("grpc: " + key + " must be a number of milliseconds, got " + v, e);
    }
  }
}
