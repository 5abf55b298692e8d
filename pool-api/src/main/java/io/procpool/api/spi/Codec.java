package io.procpool.api.spi;

import java.io.IOException;
import java.io.InputStream;
import java.io.ObjectInputFilter;
import java.io.OutputStream;
import java.nio.ByteBuffer;

/**
 * Turns tasks, arguments, results and exceptions into bytes and back. Found with
 * {@link java.util.ServiceLoader} (list the class in {@code META-INF/services/io.procpool.api.spi.Codec})
 * and selected by {@link #name()} in both the parent and the workers, so a codec must be on the
 * workers' classpath too.
 *
 * <p>Implementations must be thread-safe, have a public no-argument constructor, and must consult the
 * given {@link ObjectInputFilter} before instantiating any class named by the input: the pool relies on
 * it to refuse unexpected classes.
 */
public interface Codec {

  /** The name users select with {@code builder.codec(name)}, e.g. {@code "java"}. */
  String name();

  /**
   * Writes {@code value} (possibly {@code null}) to {@code out}.
   *
   * @throws java.io.NotSerializableException or another {@link IOException} if it cannot be encoded
   */
  void encode(Object value, OutputStream out) throws IOException;

  /**
   * Reads one value written by {@link #encode} from {@code in}, which holds exactly that encoding.
   * The value must not share memory with the input (the pool reuses its buffers once this returns).
   *
   * @param loader the class loader for user classes
   * @param filter the filter every class must pass before it is instantiated
   * @throws java.io.InvalidClassException if the filter refused a class
   * @throws ClassNotFoundException if a class is missing
   */
  Object decode(InputStream in, ClassLoader loader, ObjectInputFilter filter)
      throws IOException, ClassNotFoundException;

  /**
   * Reads one value written by {@link #encode} from the bytes between {@code in}'s position and its
   * limit, advancing the position (how far is unspecified: callers bound a value with the limit).
   * The default reads through an {@link InputStream}; codecs override it to decode small values
   * without that indirection, which the pool uses on its hot path. As for the stream variant, the value
   * must not share memory with {@code in} (e.g. a slice of it): the pool reads later messages into the
   * same buffer once this returns. {@code in} may be a heap or a direct buffer (it depends on the
   * transport and the message's size), so do not rely on {@link ByteBuffer#array()} without checking
   * {@link ByteBuffer#hasArray()}. (Large messages decoded by a custom codec are left in a buffer of
   * their own, so a value sharing memory with them is not overwritten; small ones have no such
   * guarantee.)
   */
  default Object decode(ByteBuffer in, ClassLoader loader, ObjectInputFilter filter)
      throws IOException, ClassNotFoundException {
    return decode(new InputStream() {
      @Override
      public int read() {
        return in.hasRemaining() ? in.get() & 0xff : -1;
      }

      @Override
      public int read(byte[] b, int off, int len) {
        if (len == 0) {
          return 0;
        }
        if (!in.hasRemaining()) {
          return -1;
        }
        int n = Math.min(len, in.remaining());
        in.get(b, off, n);
        return n;
      }

      @Override
      public int available() {
        return in.remaining();
      }
    }, loader, filter);
  }
}
