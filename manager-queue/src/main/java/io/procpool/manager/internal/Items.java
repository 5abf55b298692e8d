package io.procpool.manager.internal;

import io.procpool.api.TaskSerializationException;
import io.procpool.api.ProcPoolException;
import io.procpool.api.spi.Codec;
import io.procpool.core.JavaSerializationCodec;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.ObjectInputFilter;
import io.procpool.api.spi.TransportOptions;

/** Encodes and decodes queue items in the clients, with procpool's default codec. */
final class Items {
  private Items() {}

  private static final Codec CODEC = new JavaSerializationCodec();

  /** The JVM-wide filter if one is set, then size and depth limits. */
  private static final ObjectInputFilter FILTER = info -> {
    ObjectInputFilter global = ObjectInputFilter.Config.getSerialFilter();
    if (global != null) {
      ObjectInputFilter.Status s = global.checkInput(info);
      if (s != ObjectInputFilter.Status.UNDECIDED) {
        return s;
      }
    }
    long max = TransportOptions.DEFAULT_MAX_FRAME_SIZE;
    if (info.depth() > 2000 || info.streamBytes() > max || info.arrayLength() > max) {
      return ObjectInputFilter.Status.REJECTED;
    }
    return ObjectInputFilter.Status.UNDECIDED;
  };

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
      return (E) CODEC.decode(new ByteArrayInputStream(bytes), loader, FILTER);
    } catch (IOException | ClassNotFoundException e) {
      throw new ProcPoolException("cannot decode a queue item: " + e, e);
    }
  }
}
