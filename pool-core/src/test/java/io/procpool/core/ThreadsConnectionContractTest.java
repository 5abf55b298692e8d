package io.procpool.core;

import io.procpool.api.spi.TransportProvider;
import io.procpool.testkit.AbstractConnectionContractTest;

/**
 * The Connection contract over the in-JVM transport. It has no fake server: a threads address names
 * a server of this JVM, so a client cannot reach one that does not hold the key.
 */
class ThreadsConnectionContractTest extends AbstractConnectionContractTest {
  @Override
  protected TransportProvider provider() {
    return new ThreadsTransportProvider();
  }
}
