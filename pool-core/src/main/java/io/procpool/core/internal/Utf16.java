package io.procpool.core.internal;

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
}
