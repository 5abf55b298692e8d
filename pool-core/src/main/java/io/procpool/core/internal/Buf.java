package io.procpool.core.internal;

import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * A growable, unsynchronized byte buffer that builds one protocol message: a header written with the
 * {@code put*} methods followed by whatever a codec writes through it as an {@link OutputStream}.
 */
final class Buf extends OutputStream {
  private byte[] bytes;
  private int size;

  Buf(int initialCapacity) {
    bytes = new byte[Math.max(16, initialCapacity)];
  }

  private void ensure(int extra) {
    int needed = size + extra;
    if (needed < 0) {
      throw new OutOfMemoryError("message larger than 2 GiB");
    }
    if (needed > bytes.length) {
      bytes = Arrays.copyOf(bytes, Math.max(needed, bytes.length << 1));
    }
  }

  @Override
  public void write(int b) {
    ensure(1);
    bytes[size++] = (byte) b;
  }

  @Override
  public void write(byte[] b, int off, int len) {
    ensure(len);
    System.arraycopy(b, off, bytes, size, len);
    size += len;
  }

  Buf put(int b) {
    write(b);
    return this;
  }

  Buf putInt(int v) {
    ensure(4);
    bytes[size] = (byte) (v >>> 24);
    bytes[size + 1] = (byte) (v >>> 16);
    bytes[size + 2] = (byte) (v >>> 8);
    bytes[size + 3] = (byte) v;
    size += 4;
    return this;
  }

  Buf putLong(long v) {
    putInt((int) (v >>> 32));
    return putInt((int) v);
  }

  /** Writes a length-prefixed UTF-8 string; {@code null} is written as length -1. */
  Buf putString(String s) {
    if (s == null) {
      return putInt(-1);
    }
    byte[] b = s.getBytes(StandardCharsets.UTF_8);
    putInt(b.length);
    write(b, 0, b.length);
    return this;
  }

  Buf putBytes(byte[] b, int off, int len) {
    putInt(len);
    write(b, off, len);
    return this;
  }

  /** Overwrites the int at {@code pos}. */
  void setInt(int pos, int v) {
    bytes[pos] = (byte) (v >>> 24);
    bytes[pos + 1] = (byte) (v >>> 16);
    bytes[pos + 2] = (byte) (v >>> 8);
    bytes[pos + 3] = (byte) v;
  }

  /** Overwrites the long at {@code pos}. */
  void setLong(int pos, long v) {
    setInt(pos, (int) (v >>> 32));
    setInt(pos + 4, (int) v);
  }

  /** Drops everything after the first {@code newSize} bytes. */
  void truncate(int newSize) {
    if (newSize < 0 || newSize > size) {
      throw new IllegalArgumentException("bad size " + newSize);
    }
    size = newSize;
  }

  /** Forgets the content, keeping the capacity. */
  void reset() {
    size = 0;
  }

  int size() {
    return size;
  }

  byte[] array() {
    return bytes;
  }

  /** A buffer over the bytes written so far (no copy). */
  ByteBuffer toByteBuffer() {
    return ByteBuffer.wrap(bytes, 0, size);
  }

  /** Reads a string written by {@link #putString}. */
  static String getString(ByteBuffer in) {
    int len = in.getInt();
    if (len < 0) {
      return null;
    }
    if (len > in.remaining()) {
      throw new IllegalArgumentException("string length " + len + " exceeds message");
    }
    byte[] b = new byte[len];
    in.get(b);
    return new String(b, StandardCharsets.UTF_8);
  }
}
