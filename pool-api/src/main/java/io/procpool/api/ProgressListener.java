package io.procpool.api;

/**
 * Receives the {@link Progress} of one {@code map} or {@code imap}; set it with
 * {@link MapOptions#onProgress(ProgressListener)}.
 *
 * <p>The pool calls it on its callback executor (see
 * {@link ProcessPool.Builder#callbackExecutor(java.util.concurrent.Executor)}), one call at a time,
 * in order, with counts that never decrease; at most about every 100 ms while items complete, so
 * that a map of a million items does not make a million calls, and once more at the end. The final
 * call comes after the last result has arrived and before the map's result is complete: when
 * {@code map} returns, {@code mapAsync}'s result is ready or an {@code imap} iterator's
 * {@code hasNext()} returns {@code false}, the listener has seen the final counts, and it is never
 * called again. An {@code imap} whose input has not ended gets its final call when the pool is
 * closed or terminated, before {@code close()}/{@code terminate()} return (its total may still be
 * {@code -1}); nothing is called after the pool has ended (if the listener or a callback itself
 * closes the pool, the final call comes right after it returns).
 *
 * <p>A listener that throws is logged and called again with the next update; it cannot affect the
 * work. It should return quickly: it shares the callback executor with the pool's other callbacks.
 * (A map started from a callback or a listener, which waits for it there, has its listener called
 * on the pool's view threads instead, still one call at a time.)
 */
@FunctionalInterface
public interface ProgressListener {

  /** Called with the latest counts; see the class documentation for when. */
  void onProgress(Progress progress);
}
