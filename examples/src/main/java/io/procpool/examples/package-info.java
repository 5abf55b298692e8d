/**
 * The programs of the seed document (Python's {@code multiprocessing.Pool} tutorial), ported to
 * procpool line by line, and {@code progress}, which shows how to watch a pool (a progress bar and
 * per-worker statistics). Run them all with {@code java -jar examples/target/examples.jar}.
 */
package io.procpool.examples;
