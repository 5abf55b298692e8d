package io.procpool.api;

import java.io.Serializable;

/**
 * A task that takes one argument and returns a value: the function of {@code apply(func, (arg,))},
 * {@code map} and {@code imap}. Lambdas and method references targeting it are serializable.
 *
 * @param <T> the argument type
 * @param <R> the result type
 */
@FunctionalInterface
public interface SerializableFunction<T, R> extends Serializable {
  /**
   * Runs the task.
   *
   * @param t the argument, possibly {@code null}
   * @return the result, possibly {@code null}
   * @throws Exception any failure; it reaches the caller as the cause of a
   *     {@link TaskFailedException} (or of an {@link java.util.concurrent.ExecutionException})
   */
  R apply(T t) throws Exception;
}
