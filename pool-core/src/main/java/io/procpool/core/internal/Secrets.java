package io.procpool.core.internal;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;

/**
 * Internal: this JVM's registry of manager keys, so that serialized queue proxies carry only a
 * key's {@linkplain #fingerprint fingerprint}, never the key. Not API.
 *
 * <p>Filled by the manager module whenever this JVM starts or connects to a manager. A lookup that
 * misses here is asked of the parent when this JVM is a pool's worker process: {@link WorkerRuntime}
 * installs a resolver that sends a SECRET request over the worker's own authenticated channel, and
 * the parent answers from its registry ({@link WorkerChannel}). A key found that way is registered
 * here too.
 */
public final class Secrets {
  private Secrets() {}

  private static final byte[] DOMAIN = "procpool manager key fingerprint v1\0".getBytes(StandardCharsets.US_ASCII);

  /** Fingerprint (as a ByteBuffer, for equals/hashCode) to key. */
  private static final ConcurrentHashMap<ByteBuffer, byte[]> KEYS = new ConcurrentHashMap<>();

  /** Asks the parent of this worker JVM; null outside a worker process. */
  private static volatile Function<byte[], byte[]> parent;

  /**
   * The fingerprint of {@code key}: SHA-256 over a domain tag and the key. It names the key without
   * revealing it (a key is 32 random bytes, so it cannot be guessed from its hash).
   */
  public static byte[] fingerprint(byte[] key) {
    Objects.requireNonNull(key, "key");
    try {
      MessageDigest d = MessageDigest.getInstance("SHA-256");
      d.update(DOMAIN);
      d.update(key);
      return d.digest();
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is not available", e);
    }
  }

  /** Remembers {@code key} in this JVM; returns its fingerprint. */
  public static byte[] register(byte[] key) {
    byte[] fp = fingerprint(key);
    KEYS.putIfAbsent(ByteBuffer.wrap(fp), key.clone());
    return fp;
  }

  /** The key of {@code fingerprint} known in this JVM, or null. Does not ask the parent. */
  static byte[] lookupLocal(byte[] fingerprint) {
    byte[] key = KEYS.get(ByteBuffer.wrap(fingerprint));
    return key == null ? null : key.clone();
  }

  /**
   * The key of {@code fingerprint}: from this JVM's registry, else (in a pool worker) from the
   * parent, which may block for the round trip; null if neither knows it.
   */
  public static byte[] lookup(byte[] fingerprint) {
    Objects.requireNonNull(fingerprint, "fingerprint");
    byte[] key = lookupLocal(fingerprint);
    if (key != null) {
      return key;
    }
    Function<byte[], byte[]> p = parent;
    if (p == null) {
      return null;
    }
    key = p.apply(fingerprint.clone());
    if (key == null || !MessageDigest.isEqual(fingerprint(key), fingerprint)) {
      return null; // unknown to the parent too, or an answer that does not match
    }
    register(key);
    return key;
  }

  /** Installed by a worker process's {@link WorkerRuntime}: how to ask the parent. */
  static void askParentWith(Function<byte[], byte[]> resolver) {
    parent = resolver;
  }
}
