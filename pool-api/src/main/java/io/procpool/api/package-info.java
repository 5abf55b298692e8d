/**
 * The public API of procpool: {@link io.procpool.api.ProcessPool}, {@link io.procpool.api.AsyncResult},
 * the serializable task interfaces and the exception hierarchy rooted at
 * {@link io.procpool.api.ProcPoolException}.
 *
 * <p>Null policy: parameters are non-null unless documented otherwise; task arguments and task
 * results may be {@code null}.
 */
package io.procpool.api;
