package io.procpool.core.internal;

import java.util.ArrayList;
import java.util.List;

/**
 * Effects decided under the scheduler's lock and run after it is released, in the order they were
 * added: flushing connections (may block), completing results (runs user-visible completion),
 * killing and launching workers, logging. A method that holds the lock only adds to an outbox; the
 * code that took the lock runs it after unlocking.
 *
 * <p>Not thread-safe: one per locked section.
 */
final class Outbox {
  private List<Runnable> effects;

  void add(Runnable effect) {
    if (effects == null) {
      effects = new ArrayList<>(4);
    }
    effects.add(effect);
  }

  /** Runs every effect once; an effect that throws does not stop the others. */
  void run() {
    if (effects == null) {
      return;
    }
    List<Runnable> list = effects;
    effects = null;
    RuntimeException first = null;
    for (Runnable r : list) {
      try {
        r.run();
      } catch (RuntimeException e) {
        if (first == null) {
          first = e;
        } else {
          first.addSuppressed(e);
        }
      }
    }
    // Effects added while running (e.g. by a nested completion) run too.
    run();
    if (first != null) {
      throw first;
    }
  }
}
