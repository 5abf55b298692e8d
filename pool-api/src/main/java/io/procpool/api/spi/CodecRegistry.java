package io.procpool.api.spi;

import java.util.ArrayList;
import java.util.List;

/** Finds {@link Codec}s on the classpath by name. */
public final class CodecRegistry {
  private CodecRegistry() {}

  /**
   * The codec named {@code name}.
   *
   * @throws IllegalArgumentException if there is none; the message lists the codecs found
   */
  public static Codec get(String name) {
    List<String> names = new ArrayList<>();
    for (Codec codec : TransportRegistry.load(Codec.class, null)) {
      if (codec.name().equals(name)) {
        return codec;
      }
      names.add(codec.name());
    }
    throw new IllegalArgumentException(
        "unknown codec '" + name + "'; codecs found: " + (names.isEmpty() ? "none" : String.join(", ", names)));
  }
}
