package io.procpool.manager.internal;

import io.procpool.api.TaskSerializationException;
import io.procpool.api.spi.Codec;
import io.procpool.core.JavaSerializationCodec;
import io.procpool.core.internal.SerialFilters;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;

/** Encodes and decodes queue items in the clients, with procpool's default codec. */
final class Items {
  private Items() {}

  private static final Codec CODEC = new JavaSerializationCodec();

  static byte[] encode(Object item) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(32);
    try {
      CODEC.encode(item, out);
    } catch (IOException e) {
      throw new TaskSerializationException("cannot encode a queue item of " + item.getClass().getName()
          + ": " + e, e);
    }
    return out.toByteArray();
  }

  @SuppressWarnings("unchecked")
  static <E> E decode(byte[] bytes) {
    ClassLoader loader = Thread.currentThread().getContextClassLoader();
    if (loader == null) {
      loader = Items.class.getClassLoader();
    }
    try {
      // The one filter of tasks and results: built-in reject list, the JVM-wide filter, limits and,
      // in a worker, the pool's serialFilter pattern.
      return (E) CODEC.decode(new ByteArrayInputStream(bytes), loader, SerialFilters.forItems());
    } catch (IOException | ClassNotFoundException | RuntimeException | LinkageError e) {
      throw new TaskSerializationException("cannot decode a queue item: " + SerialFilters.explain(e), e);
    }
  }
}
