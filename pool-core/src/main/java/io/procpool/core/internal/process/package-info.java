/**
 * Internal: child JVMs of procpool (pool workers and the manager). The parent side starts them
 * ({@link io.procpool.core.internal.process.ChildJvm}); the child side reads what the parent handed
 * over and watches it ({@link io.procpool.core.internal.process.ParentLink}), and a child's main class
 * parses its command line and exits through {@link io.procpool.core.internal.process.ChildMain}.
 *
 * <p>Not API, with no compatibility promise: public only so procpool's own modules (the manager)
 * can use it, and to be exported to them alone once procpool has module descriptors.
 */
package io.procpool.core.internal.process;
