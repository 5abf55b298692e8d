package io.procpool.api;

import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * Options of one {@code map}, {@code mapAsync}, {@code imap} or {@code imapUnordered} call. Immutable:
 * each method returns a new value, so a value may be kept in a constant and shared.
 *
 * <pre>{@code
 * List<Integer> squares = pool.map(x -> x * x, items,
 *     MapOptions.defaults().chunksize(100).onProgress(p -> bar.stepTo(p.done())));
 * }</pre>
 */
public final class MapOptions {
  private static final MapOptions DEFAULTS = new MapOptions(0, null);

  private final int chunksize;
  private final ProgressListener progressListener;

  private MapOptions(int chunksize, ProgressListener progressListener) {
    this.chunksize = chunksize;
    this.progressListener = progressListener;
  }

  /** No explicit chunk size (the call's default: Python's for {@code map}, 1 for {@code imap}), no listener. */
  public static MapOptions defaults() {
    return DEFAULTS;
  }

  /**
   * These options with items sent to workers in chunks of {@code chunksize} ({@code >= 1}).
   *
   * @throws IllegalArgumentException if {@code chunksize < 1}
   */
  public MapOptions chunksize(int chunksize) {
    if (chunksize < 1) {
      throw new IllegalArgumentException("chunksize must be at least 1, got " + chunksize);
    }
    return new MapOptions(chunksize, progressListener);
  }

  /** These options with {@code listener} told how far the call has come; see {@link ProgressListener}. */
  public MapOptions onProgress(ProgressListener listener) {
    return new MapOptions(chunksize, Objects.requireNonNull(listener, "listener"));
  }

  /** The chunk size, if one was set. */
  public OptionalInt chunksize() {
    return chunksize > 0 ? OptionalInt.of(chunksize) : OptionalInt.empty();
  }

  /** The progress listener, if one was set. */
  public Optional<ProgressListener> progressListener() {
    return Optional.ofNullable(progressListener);
  }

  @Override
  public String toString() {
    return "MapOptions{chunksize=" + (chunksize > 0 ? chunksize : "default")
        + (progressListener != null ? ", onProgress=" + progressListener : "") + "}";
  }
}
