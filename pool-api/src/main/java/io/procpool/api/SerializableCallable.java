package io.procpool.api;

import java.io.Serializable;
import java.util.concurrent.Callable;

/**
 * A task without an argument that returns a value: Python's {@code apply(func)}. A lambda or method
 * reference that targets this interface is serializable, so a worker JVM can run it, provided that
 * everything it captures is serializable too.
 *
 * @param <R> the result type
 */
@FunctionalInterface
public interface SerializableCallable<R> extends Callable<R>, Serializable {
  @Override
  R call() throws Exception;
}
