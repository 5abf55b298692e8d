/**
 * The programs of the seed document (Python's {@code multiprocessing.Pool} tutorial), ported to
 * procpool line by line. Run them all with {@code java -jar examples/target/examples.jar}.
 */
package io.procpool.examples;
