package io.procpool.core.internal;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/** Whether a string survives UTF-8: the compact string encodings use UTF-8, which cannot carry a lone surrogate. */
public final class Utf16 {
  private Utf16() {}

  /**
   * Whether {@code s} has no unpaired surrogate, so that UTF-8 encodes it without loss (an unpaired
   * surrogate would come back as {@code '?'}).
   */
  public static boolean wellFormed(String s) {
    for (int i = 0, n = s.length(); i < n; i++) {
      char c = s.charAt(i);
      if (Character.isSurrogate(c)) {
        if (Character.isHighSurrogate(c) && i + 1 < n && Character.isLowSurrogate(s.charAt(i + 1))) {
          i++;
        } else {
          return false;
        }
      }
    }
    return true;
  }

  /**
   * The string whose UTF-8 encoding is the next {@code len} bytes of {@code in} (already checked to be
   * there), advancing its position past them; straight from the array of a heap buffer.
   */
  public static String readUtf8(ByteBuffer in, int len) {
    if (in.hasArray()) {
      String s = new String(in.array(), in.arrayOffset() + in.position(), len, StandardCharsets.UTF_8);
      in.position(in.position() + len);
      return s;
    }
    byte[] b = new byte[len];
    in.get(b);
    return new String(b, StandardCharsets.UTF_8);
  }
}
