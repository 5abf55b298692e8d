package io.procpool.core.internal;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** This process's resident set size, from {@code /proc/self/statm} (Linux). */
final class ResidentMemory {
  private static final Path STATM = Path.of("/proc/self/statm");
  private static final long PAGE = 4096;

  private ResidentMemory() {}

  /** Resident bytes, or 0 where that cannot be read (then no cap applies). */
  static long bytes() {
    try {
      String s = new String(Files.readAllBytes(STATM), StandardCharsets.US_ASCII);
      String[] fields = s.trim().split(" ");
      return Long.parseLong(fields[1]) * PAGE;
    } catch (IOException | RuntimeException e) {
      return 0;
    }
  }
}
