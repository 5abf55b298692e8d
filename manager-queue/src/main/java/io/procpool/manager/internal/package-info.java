/**
 * Internal: the manager's wire protocol, server state, client connection and queue proxy. Not an
 * API; may change in any release. Parameters and results are non-null unless documented.
 */
package io.procpool.manager.internal;
