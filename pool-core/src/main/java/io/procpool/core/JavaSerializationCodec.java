package io.procpool.core;

import io.procpool.api.spi.Codec;
import io.procpool.core.internal.Utf16;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.ObjectInputFilter;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.io.ObjectStreamClass;
import java.io.OutputStream;
import java.io.StreamCorruptedException;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * The default codec, {@code "java"}: Java serialization, always decoded through the pool's
 * {@link ObjectInputFilter} merged with the JVM-wide one (so an operator's {@code -Djdk.serialFilter}
 * still applies), with a compact fast path for {@code null}, {@link Integer},
 * {@link Long}, {@link Double}, {@link Boolean}, {@link String} and {@code byte[]} values, which
 * are the common task arguments and results.
 */
public final class JavaSerializationCodec implements Codec {
  private static final int TAG_NULL = 0;
  private static final int TAG_INT = 1;
  private static final int TAG_LONG = 2;
  private static final int TAG_STRING = 3;
  private static final int TAG_BYTES = 4;
  private static final int TAG_TRUE = 5;
  private static final int TAG_FALSE = 6;
  private static final int TAG_DOUBLE = 7;
  private static final int TAG_SERIALIZED = 8;

  /** Creates the codec; it is stateless. */
  public JavaSerializationCodec() {}

  @Override
  public String name() {
    return "java";
  }

  @Override
  public void encode(Object value, OutputStream out) throws IOException {
    if (value == null) {
      out.write(TAG_NULL);
    } else if (value instanceof Integer) {
      out.write(TAG_INT);
      writeInt(out, (Integer) value);
    } else if (value instanceof Long) {
      out.write(TAG_LONG);
      long v = (Long) value;
      writeInt(out, (int) (v >>> 32));
      writeInt(out, (int) v);
    } else if (value instanceof String && io.procpool.core.internal.Utf16.wellFormed((String) value)) {
      // (A string with an unpaired surrogate takes the serialized path, which keeps it.)
      byte[] b = ((String) value).getBytes(StandardCharsets.UTF_8);
      out.write(TAG_STRING);
      writeInt(out, b.length);
      out.write(b);
    } else if (value instanceof byte[]) {
      byte[] b = (byte[]) value;
      out.write(TAG_BYTES);
      writeInt(out, b.length);
      out.write(b);
    } else if (value instanceof Boolean) {
      out.write((Boolean) value ? TAG_TRUE : TAG_FALSE);
    } else if (value instanceof Double) {
      out.write(TAG_DOUBLE);
      long v = Double.doubleToRawLongBits((Double) value);
      writeInt(out, (int) (v >>> 32));
      writeInt(out, (int) v);
    } else {
      out.write(TAG_SERIALIZED);
      ObjectOutputStream oos = new ObjectOutputStream(out);
      oos.writeObject(value);
      oos.flush();
    }
  }

  @Override
  public Object decode(InputStream in, ClassLoader loader, ObjectInputFilter filter)
      throws IOException, ClassNotFoundException {
    int tag = in.read();
    switch (tag) {
      case TAG_NULL:
        return null;
      case TAG_INT:
        return readInt(in);
      case TAG_LONG:
        return ((long) readInt(in) << 32) | (readInt(in) & 0xffffffffL);
      case TAG_DOUBLE:
        return Double.longBitsToDouble(((long) readInt(in) << 32) | (readInt(in) & 0xffffffffL));
      case TAG_TRUE:
        return Boolean.TRUE;
      case TAG_FALSE:
        return Boolean.FALSE;
      case TAG_STRING:
        return new String(readBytes(in), StandardCharsets.UTF_8);
      case TAG_BYTES:
        return readBytes(in);
      case TAG_SERIALIZED:
        try (ObjectInputStream ois = new LoaderObjectInputStream(in, loader)) {
          setFilter(ois, filter);
          return ois.readObject();
        }
      case -1:
        throw new EOFException("empty encoding");
      default:
        throw new StreamCorruptedException("unknown value tag " + tag);
    }
  }

  /** Reads the compact encodings straight from the buffer; only serialized objects need a stream. */
  @Override
  public Object decode(ByteBuffer in, ClassLoader loader, ObjectInputFilter filter)
      throws IOException, ClassNotFoundException {
    if (!in.hasRemaining()) {
      throw new EOFException("empty encoding");
    }
    try {
      int tag = in.get(in.position());
      switch (tag) {
        case TAG_NULL:
          in.get();
          return null;
        case TAG_INT:
          in.get();
          return in.getInt();
        case TAG_LONG:
          in.get();
          return in.getLong();
        case TAG_DOUBLE:
          in.get();
          return in.getDouble();
        case TAG_TRUE:
          in.get();
          return Boolean.TRUE;
        case TAG_FALSE:
          in.get();
          return Boolean.FALSE;
        case TAG_STRING: {
          in.get();
          return Utf16.readUtf8(in, length(in));
        }
        case TAG_BYTES: {
          in.get();
          byte[] b = new byte[length(in)];
          in.get(b);
          return b;
        }
        default:
          return Codec.super.decode(in, loader, filter); // a serialized object: through a stream
      }
    } catch (BufferUnderflowException e) {
      throw new EOFException("truncated value");
    }
  }

  /**
   * Adds {@code filter} to the filter the stream starts with (the operator's {@code -Djdk.serialFilter},
   * or what a {@code jdk.serialFilterFactory} chose) instead of replacing it: a class either refuses
   * is refused.
   */
  private static void setFilter(ObjectInputStream ois, ObjectInputFilter filter) {
    if (filter == null) {
      return;
    }
    ObjectInputFilter initial = ois.getObjectInputFilter();
    ois.setObjectInputFilter(initial == null ? filter : ObjectInputFilter.merge(filter, initial));
  }

  private static int length(ByteBuffer in) throws StreamCorruptedException {
    int len = in.getInt();
    if (len < 0 || len > in.remaining()) {
      throw new StreamCorruptedException("bad length " + len + " (" + in.remaining() + " bytes left)");
    }
    return len;
  }

  private static void writeInt(OutputStream out, int v) throws IOException {
    out.write(v >>> 24);
    out.write(v >>> 16);
    out.write(v >>> 8);
    out.write(v);
  }

  private static int readInt(InputStream in) throws IOException {
    int a = in.read();
    int b = in.read();
    int c = in.read();
    int d = in.read();
    if ((a | b | c | d) < 0) {
      throw new EOFException("truncated value");
    }
    return (a << 24) | (b << 16) | (c << 8) | d;
  }

  private static byte[] readBytes(InputStream in) throws IOException {
    int len = readInt(in);
    if (len < 0 || len > in.available()) {
      throw new StreamCorruptedException("bad length " + len + " (" + in.available() + " bytes left)");
    }
    byte[] b = new byte[len];
    new DataInputStream(in).readFully(b);
    return b;
  }

  /** Resolves classes with the given loader (the workers' user classes). */
  private static final class LoaderObjectInputStream extends ObjectInputStream {
    private final ClassLoader loader;

    LoaderObjectInputStream(InputStream in, ClassLoader loader) throws IOException {
      super(in);
      this.loader = loader;
    }

    @Override
    protected Class<?> resolveClass(ObjectStreamClass desc) throws IOException, ClassNotFoundException {
      try {
        return Class.forName(desc.getName(), false, loader);
      } catch (ClassNotFoundException e) {
        return super.resolveClass(desc);
      }
    }
  }

}
