package io.procpool.ipc.grpc;

import java.util.Map;

/** Settings and connect timing, from the {@code grpc.*} transport properties. */
final class Settings {
  static final String TIME = "grpc.keepAliveTimeMillis";
  static final String TIMEOUT = "grpc.keepAliveTimeoutMillis";
  static final String CONNECT_TIMEOUT = "grpc.connectTimeoutMillis";
  static final String DIRECT_CALLBACKS = "grpc.directCallbacks";

  final long timeMillis;
  final long timeoutMillis;
  final long connectTimeoutMillis;
  /** Run listeners on gRPC's network threads (faster; listeners must never block). */
  final boolean directCallbacks;

  private Settings(long timeMillis, long timeoutMillis, long connectTimeoutMillis, boolean directCallbacks) {
    this.timeMillis = timeMillis;
    this.timeoutMillis = timeoutMillis;
    this.connectTimeoutMillis = connectTimeoutMillis;
    this.directCallbacks = directCallbacks;
  }

  static Settings of(Map<String, String> p) {
    String direct = p.getOrDefault(DIRECT_CALLBACKS, "false");
    if (!direct.equals("true") && !direct.equals("false")) {
      throw new IllegalArgumentException("grpc: " + DIRECT_CALLBACKS + " must be true or false, got " + direct);
    }
    return new Settings(millis(p, TIME, 20_000), millis(p, TIMEOUT, 10_000), millis(p, CONNECT_TIMEOUT, 20_000),
        Boolean.parseBoolean(direct));
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
