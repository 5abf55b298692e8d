package io.procpool.api.spi;

import java.util.Arrays;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * What a transport needs from the pool: the shared secret, the frame size limit, an optional address
 * to listen on and transport-specific properties (for example TLS files). Immutable.
 */
public final class TransportOptions {
  /** The default maximum message size: 64 MiB. */
  public static final int DEFAULT_MAX_FRAME_SIZE = 64 * 1024 * 1024;

  /**
   * The property that lets a transport listen on a non-loopback address without encryption
   * ({@code "true"}). Without it, a transport that can encrypt refuses to listen off loopback in
   * plaintext, because the auth handshake and every task would cross the network in the clear.
   */
  public static final String ALLOW_PLAINTEXT = "allowPlaintext";

  private final byte[] authKey;
  private final int maxFrameSize;
  private final String listenAddress;
  private final Map<String, String> properties;

  /**
   * @param authKey the secret every connection must prove (never logged, never on a command line)
   * @param maxFrameSize the largest message accepted or sent, in bytes
   * @param listenAddress where the server listens, or {@code null} for the transport's private default
   * @param properties transport-specific settings, by name
   */
  public TransportOptions(byte[] authKey, int maxFrameSize, String listenAddress, Map<String, String> properties) {
    if (authKey.length < 16) {
      throw new IllegalArgumentException("authKey must be at least 16 bytes, got " + authKey.length);
    }
    if (maxFrameSize < 1024) {
      throw new IllegalArgumentException("maxFrameSize must be at least 1024 bytes, got " + maxFrameSize);
    }
    this.authKey = authKey.clone();
    this.maxFrameSize = maxFrameSize;
    this.listenAddress = listenAddress;
    this.properties = Map.copyOf(properties);
  }

  /** A copy of the shared secret. */
  public byte[] authKey() {
    return authKey.clone();
  }

  /** The largest message, in bytes, that may be sent or accepted. */
  public int maxFrameSize() {
    return maxFrameSize;
  }

  /** The address to listen on, if one was configured. */
  public Optional<String> listenAddress() {
    return Optional.ofNullable(listenAddress);
  }

  /** Transport-specific properties. */
  public Map<String, String> properties() {
    return properties;
  }

  @Override
  public String toString() {
    // Never print the key.
    return "TransportOptions{maxFrameSize=" + maxFrameSize + ", listenAddress=" + listenAddress
        + ", properties=" + properties.keySet() + "}";
  }

  @Override
  public boolean equals(Object o) {
    if (!(o instanceof TransportOptions)) {
      return false;
    }
    TransportOptions that = (TransportOptions) o;
    return maxFrameSize == that.maxFrameSize
        && Arrays.equals(authKey, that.authKey)
        && Objects.equals(listenAddress, that.listenAddress)
        && properties.equals(that.properties);
  }

  @Override
  public int hashCode() {
    return Objects.hash(maxFrameSize, listenAddress, properties) * 31 + Arrays.hashCode(authKey);
  }
}
