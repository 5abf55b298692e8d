/**
 * Contract test suites and helpers for procpool implementations and transports (JUnit Jupiter).
 * Open, so that JUnit can reflect into the suites' test methods and fields.
 */
open module io.procpool.testkit {
  requires transitive io.procpool.api;
  requires transitive org.junit.jupiter.api;
  requires transitive org.junit.jupiter.params;

  exports io.procpool.testkit;
}
