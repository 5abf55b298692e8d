/**
 * The consumer application as a named module: it requires only procpool's API; the implementation
 * modules (pool, transport, manager) are found as services on the module path.
 */
module app {
  requires io.procpool.api;
}
