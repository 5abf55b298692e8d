package io.procpool.ipc.grpc;

import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.LoadBalancerRegistry;
import io.grpc.NameResolverRegistry;
import org.junit.jupiter.api.Test;

class GrpcRegistrationsTest {
  @Test
  void gRpcsOwnRegistrationsAreCompleteOnThisClasspath() throws Exception {
    assertNull(GrpcRegistrations.find(NameResolverRegistry.getDefaultRegistry(), LoadBalancerRegistry.getDefaultRegistry()));
    GrpcRegistrations.checkClient();
  }

  @Test
  void registriesEmptiedByAnUnmergedFatJarAreNamedWithTheFix() {
    // What a fat jar without merged service files leaves: gRPC's registries miss what other jars listed.
    String message = GrpcRegistrations.find(new NameResolverRegistry(), new LoadBalancerRegistry());
    assertTrue(message.contains("'dns' name resolver") && message.contains("'pick_first' load balancer"), message);
    assertTrue(message.contains("ServicesResourceTransformer") && message.contains("mergeServiceFiles()"), message);
  }
}
