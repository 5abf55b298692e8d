package io.procpool.core.internal.process;

import java.nio.charset.StandardCharsets;
import java.util.AbstractMap;
import java.util.Base64;
import java.util.Map;

/**
 * The one text format procpool hands transport properties over in, between a parent and its child
 * JVMs (after the secret on the child's standard input) and from a manager to its parent (in its
 * address file): one line a property, {@code base64(key) SP base64(value)}, UTF-8 inside the Base64.
 */
public final class PropertyLines {
  private PropertyLines() {}

  /** Appends one line, newline included, for each property. */
  public static StringBuilder append(StringBuilder to, Map<String, String> properties) {
    Base64.Encoder b64 = Base64.getEncoder();
    properties.forEach((k, v) -> to.append(b64.encodeToString(k.getBytes(StandardCharsets.UTF_8))).append(' ')
        .append(b64.encodeToString(v.getBytes(StandardCharsets.UTF_8))).append('\n'));
    return to;
  }

  /**
   * Reads one line (without its newline; white space after the value, such as a {@code \r}, is ignored).
   *
   * @return the property, or {@code null} if the line has no key and value
   * @throws IllegalArgumentException if the key or the value is not Base64
   */
  public static Map.Entry<String, String> parse(String line) {
    int sp = line.indexOf(' ');
    if (sp <= 0) {
      return null;
    }
    Base64.Decoder b64 = Base64.getDecoder();
    // An empty value is an empty Base64 text: the line ends with the space.
    return new AbstractMap.SimpleImmutableEntry<>(new String(b64.decode(line.substring(0, sp)), StandardCharsets.UTF_8),
        new String(b64.decode(line.substring(sp + 1).strip()), StandardCharsets.UTF_8));
  }
}
