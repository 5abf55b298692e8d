package io.procpool.api;

import java.time.Duration;
import java.util.Objects;
import java.util.Optional;

/**
 * How far a {@code map}, {@code mapAsync}, {@code imap} or {@code imapUnordered} has come, as a
 * {@link ProgressListener} sees it. Counts are items of the input, not chunks.
 *
 * @param completed items whose function returned a value
 * @param failed items that did not produce a value: the function threw, its worker crashed or
 *     timed out, or the pool was terminated (a chunk that fails at one item counts the items after
 *     it in the chunk as failed too: they never ran); when a {@code map} fails (at its first failing
 *     item) or is cancelled, its final call counts every item without a value as failed, so that
 *     {@code done() == total()} at the end
 * @param total the number of input items, or {@code -1} while it is unknown: the input of an
 *     {@code imap} that is not a {@link java.util.Collection} (it may be infinite), until it ends
 * @param elapsed the time since the call that submitted the work
 */
public record Progress(long completed, long failed, long total, Duration elapsed) {

  /** Validates the components. */
  public Progress {
    if (completed < 0 || failed < 0 || total < -1) {
      throw new IllegalArgumentException("negative count in Progress(" + completed + ", " + failed + ", " + total + ")");
    }
    Objects.requireNonNull(elapsed, "elapsed");
  }

  /** Items that have an outcome: {@code completed() + failed()}. */
  public long done() {
    return completed + failed;
  }

  /**
   * The part done, from 0.0 to 1.0: {@code done() / total()}; 1.0 for an empty input, and
   * {@link Double#NaN} while the total is unknown.
   */
  public double fraction() {
    if (total < 0) {
      return Double.NaN;
    }
    return total == 0 ? 1.0 : Math.min(1.0, (double) done() / total);
  }

  /**
   * The estimated time left, extrapolated from the rate so far; empty while the total is unknown or
   * before the first item is done.
   */
  public Optional<Duration> eta() {
    long done = done();
    if (total < 0 || done == 0) {
      return Optional.empty();
    }
    long left = Math.max(0, total - done);
    double nanos = (double) elapsed.toNanos() * left / done;
    return Optional.of(Duration.ofNanos((long) Math.min(nanos, Long.MAX_VALUE)));
  }
}
