package io.procpool.core.internal;

import io.procpool.api.TaskSerializationException;
import io.procpool.api.spi.Codec;
import io.procpool.core.JavaSerializationCodec;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;

/**
 * The one way procpool encodes and decodes a value outside a pool's tasks, such as the items of a
 * manager's queues: with procpool's own codec ({@link JavaSerializationCodec}) and the one filter
 * ({@link SerialFilters#forItems()}), every failure a {@link TaskSerializationException} with a
 * specific message. Internal: public only so the manager module can reach it.
 */
public final class Items {
  private Items() {}

  private static final Codec CODEC = new JavaSerializationCodec();

  /**
   * Encodes a queue item.
   *
   * @throws TaskSerializationException if it cannot be encoded
   */
  public static byte[] encode(Object item) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(32);
    try {
      CODEC.encode(item, out);
    } catch (IOException e) {
      throw new TaskSerializationException("cannot encode a queue item of " + item.getClass().getName()
          + ": " + e, e);
    }
    return out.toByteArray();
  }

  /**
   * Decodes a queue item with the thread's context class loader (else pool-core's).
   *
   * @throws TaskSerializationException if it cannot be decoded or the filter refuses it
   */
  @SuppressWarnings("unchecked")
  public static <E> E decode(byte[] bytes) {
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
