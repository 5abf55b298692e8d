/**
 * Contract test suites and helpers for procpool implementations and transports (JUnit Jupiter).
 * Open, so that JUnit can reflect into the suites' test methods and fields.
 */
open module io.procpool.testkit {
  requires transitive io.procpool.api;
  requires transitive org.junit.jupiter.api;
  requires transitive org.junit.jupiter.params;
  // The log-record contract: tasks log through java.util.logging, the suite captures with a Handler.
  requires java.logging;

  exports io.procpool.testkit;
}
