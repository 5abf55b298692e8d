package io.procpool.ipc.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.util.Arrays;
import org.junit.jupiter.api.Test;

class HandshakeTest {
  @Test
  void proofsAreRoleBoundSingleUseAndDoNotContainTheKey() {
    byte[] cn = Handshake.nonce();
    byte[] sn = Handshake.nonce();
    byte[] client = Handshake.proof(Fixtures.KEY, Handshake.CLIENT, cn, sn);
    byte[] server = Handshake.proof(Fixtures.KEY, Handshake.SERVER, cn, sn);
    assertFalse(Arrays.equals(client, server), "a proof must not be reflectable");
    assertFalse(Arrays.equals(client, Handshake.proof(Fixtures.KEY, Handshake.CLIENT, cn, Handshake.nonce())));
    assertEquals(-1, GrpcMutualAuthTest.indexOf(client, Fixtures.KEY));
    assertEquals(32, client.length);
  }
}
