package io.procpool.core.internal;

/** A scheduled action that may be withdrawn. */
@FunctionalInterface
interface Cancellable {
  Cancellable NONE = () -> {};

  /** Withdraws the action if it has not run; harmless otherwise. */
  void cancel();
}
