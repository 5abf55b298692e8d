package io.procpool.testkit.fake;

import io.procpool.api.spi.Connection;
import io.procpool.api.spi.TransportOptions;
import io.procpool.api.spi.TransportProvider;
import io.procpool.api.spi.TransportServer;
import java.io.IOException;

/** Makes the name "fake" known to the transport registry; the fake pool needs no transport. */
public final class FakeTransportProvider extends TransportProvider {
  @Override
  public String name() {
    return "fake";
  }

  @Override
  public boolean workersInProcess() {
    return true;
  }

  @Override
  public TransportServer listen(TransportOptions options, TransportServer.Acceptor acceptor) throws IOException {
    throw new IOException("the fake transport has no endpoints");
  }

  @Override
  public Connection connect(String address, TransportOptions options) throws IOException {
    throw new IOException("the fake transport has no endpoints");
  }
}
