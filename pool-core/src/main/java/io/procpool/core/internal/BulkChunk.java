package io.procpool.core.internal;

import io.procpool.api.spi.ProtocolException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * The bulk encoding of a chunk whose values all have one of four classes ({@link Integer},
 * {@link Long}, {@link Double}, {@link String}, none null): one type byte, then the values back to
 * back without a tag or a per-value length prefix, written and read in one loop. Used only with the
 * built-in {@code "java"} codec (whose compact encodings of these four classes bypass serialization
 * and the serial filter too, so nothing is lost); any other codec sees every value itself.
 *
 * <pre>
 * values: u8 type, then by type  INT: n × i32;  LONG: n × i64;  DOUBLE: n × i64 (raw bits);
 *                                STRING: n × (i32 len, UTF-8 bytes)
 * </pre>
 *
 * <p>Sizes: a value in the per-item CHUNK encoding costs its bulk bytes plus {@link #PER_ITEM_EXTRA}
 * (a 4-byte length prefix and the codec's tag byte; for strings the length is in both). Chunk
 * splitting and the "over maxFrameSize" checks count the per-item size, so chunk boundaries and error
 * messages do not depend on which encoding a chunk got.
 */
final class BulkChunk {
  private BulkChunk() {}

  static final byte NONE = 0;
  static final byte INT = 1;
  static final byte LONG = 2;
  static final byte DOUBLE = 3;
  static final byte STRING = 4;

  /** Bytes a value takes in the per-item encoding beyond its bulk bytes. */
  static final int PER_ITEM_EXTRA = 5;

  /** The bulk type of {@code v}, or {@link #NONE} (null, or any other class, subclasses included). */
  static byte typeOf(Object v) {
    if (v == null) {
      return NONE;
    }
    Class<?> c = v.getClass();
    if (c == Integer.class) {
      return INT;
    } else if (c == Long.class) {
      return LONG;
    } else if (c == String.class) {
      return Utf16.wellFormed((String) v) ? STRING : NONE; // UTF-8 would lose an unpaired surrogate
    } else if (c == Double.class) {
      return DOUBLE;
    }
    return NONE;
  }

  /** The common bulk type of {@code items[from, from + count)}, or {@link #NONE}. */
  static byte uniformType(List<?> items, int from, int count) {
    if (count <= 0) {
      return NONE;
    }
    byte type = typeOf(items.get(from));
    if (type == NONE) {
      return NONE;
    }
    Class<?> c = items.get(from).getClass();
    for (int i = 1; i < count; i++) {
      Object v = items.get(from + i);
      if (v == null || v.getClass() != c || (type == STRING && !Utf16.wellFormed((String) v))) {
        return NONE;
      }
    }
    return type;
  }

  /** Appends the bulk bytes of {@code v}, which has bulk type {@code type}; returns their count. */
  static int put(Buf out, byte type, Object v) {
    switch (type) {
      case INT:
        out.putInt((Integer) v);
        return 4;
      case LONG:
        out.putLong((Long) v);
        return 8;
      case DOUBLE:
        out.putLong(Double.doubleToRawLongBits((Double) v));
        return 8;
      default: {
        byte[] b = ((String) v).getBytes(StandardCharsets.UTF_8);
        out.putBytes(b, 0, b.length);
        return 4 + b.length;
      }
    }
  }

  /**
   * Checks that {@code m} holds {@code n} values of {@code type} from its position on (a pre-pass
   * for strings, so that no value is used from a chunk that turns out malformed), without moving it.
   * Returns the position after the last value.
   */
  static int check(ByteBuffer m, byte type, int n, String what) throws ProtocolException {
    if (n < 0) {
      throw new ProtocolException("bad bulk " + what + " size " + n);
    }
    int p = m.position();
    int limit = m.limit();
    switch (type) {
      case INT:
      case LONG:
      case DOUBLE: {
        long end = p + (long) n * (type == INT ? 4 : 8);
        if (end > limit) {
          throw new ProtocolException("bad bulk " + what + " size " + n + " (" + (limit - p) + " bytes left)");
        }
        return (int) end;
      }
      case STRING: {
        for (int i = 0; i < n; i++) {
          if (limit - p < 4) {
            throw new ProtocolException("truncated bulk " + what + " at value " + i);
          }
          int len = m.getInt(p);
          if (len < 0 || len > limit - p - 4) {
            throw new ProtocolException("bad string length " + len + " at value " + i + " of a bulk " + what);
          }
          p += 4 + len;
        }
        return p;
      }
      default:
        throw new ProtocolException("bad bulk value type " + type + " in a " + what);
    }
  }

  /** Reads the next value of {@code type}, already {@link #check checked}. */
  static Object get(ByteBuffer m, byte type) {
    switch (type) {
      case INT:
        return m.getInt();
      case LONG:
        return m.getLong();
      case DOUBLE:
        return Double.longBitsToDouble(m.getLong());
      default:
        return Utf16.readUtf8(m, m.getInt());
    }
  }

  /** Reads {@code n} {@link #check checked} values of {@code type} into {@code into[0, n)}, in one loop per type. */
  static void getAll(ByteBuffer m, byte type, int n, Object[] into) {
    switch (type) {
      case INT:
        for (int i = 0; i < n; i++) {
          into[i] = m.getInt();
        }
        break;
      case LONG:
        for (int i = 0; i < n; i++) {
          into[i] = m.getLong();
        }
        break;
      case DOUBLE:
        for (int i = 0; i < n; i++) {
          into[i] = Double.longBitsToDouble(m.getLong());
        }
        break;
      default:
        for (int i = 0; i < n; i++) {
          into[i] = get(m, STRING);
        }
        break;
    }
  }
}
