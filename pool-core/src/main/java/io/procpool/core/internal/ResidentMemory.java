package io.procpool.core.internal;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * This process's resident set size, for {@code maxMemoryPerChild}: the {@code VmRSS} line of
 * {@code /proc/self/status} (Linux), which the kernel reports in kB whatever the page size (the
 * resident page count of {@code /proc/self/statm} would need the page size, which is not always
 * 4 KiB: 16 KiB on some arm64 kernels, 64 KiB on ppc64le). Where that file is missing or has no
 * {@code VmRSS} line (other systems, some restricted containers) the size is unknown, {@link #bytes()}
 * is 0 and no cap applies.
 */
final class ResidentMemory {
  private static final Path STATUS = Path.of("/proc/self/status");

  private ResidentMemory() {}

  /** Resident bytes, or 0 where that cannot be read (then no cap applies). */
  static long bytes() {
    try {
      return parseStatus(new String(Files.readAllBytes(STATUS), StandardCharsets.US_ASCII));
    } catch (IOException | RuntimeException e) {
      return 0;
    }
  }

  /**
   * The {@code VmRSS} of a {@code /proc/<pid>/status} text in bytes ({@code "VmRSS:   1234 kB"}), or 0 if
   * it has no such line or the line is malformed.
   */
  static long parseStatus(String status) {
    int at = status.startsWith("VmRSS:") ? 0 : status.indexOf("\nVmRSS:");
    if (at < 0) {
      return 0;
    }
    int i = status.indexOf(':', at) + 1;
    int end = status.indexOf('\n', i);
    String[] fields = status.substring(i, end < 0 ? status.length() : end).trim().split("\\s+");
    if (fields.length != 2 || !fields[1].equalsIgnoreCase("kB")) {
      return 0;
    }
    try {
      long kb = Long.parseLong(fields[0]);
      return kb < 0 || kb > Long.MAX_VALUE / 1024 ? 0 : kb * 1024;
    } catch (NumberFormatException e) {
      return 0;
    }
  }
}
