package io.procpool.ipc.grpc;

import io.grpc.LoadBalancerRegistry;
import io.grpc.NameResolverRegistry;
import java.io.IOException;

/**
 * gRPC finds its name resolvers and load balancers with {@link java.util.ServiceLoader}, from service
 * files in several of its jars. A fat jar that did not merge those files keeps only one jar's list, and
 * a channel then fails with an error about unsupported address types that names neither the cause nor
 * the fix; this check names both.
 */
final class GrpcRegistrations {
  private GrpcRegistrations() {}

  private static volatile String problem;
  private static volatile boolean checked;

  /**
   * @throws IOException naming what is missing and how to merge service files, when a client channel
   *     of this transport could not work
   */
  static void checkClient() throws IOException {
    if (!checked) {
      problem = find(NameResolverRegistry.getDefaultRegistry(), LoadBalancerRegistry.getDefaultRegistry());
      checked = true;
    }
    if (problem != null) {
      throw new IOException(problem);
    }
  }

  /** What the registries lack for a client channel, as an error message; null when nothing. */
  static String find(NameResolverRegistry resolvers, LoadBalancerRegistry balancers) {
    StringBuilder missing = new StringBuilder();
    // Addresses are host:port, resolved by the default scheme's resolver: it must be DNS.
    String scheme = resolvers.getDefaultScheme();
    if (resolvers.getProviderForScheme("dns") == null || !"dns".equals(scheme)) {
      missing.append("the 'dns' name resolver (io.grpc.NameResolverProvider; gRPC's default scheme here is '")
          .append(scheme).append("')");
    }
    if (balancers.getProvider("pick_first") == null) {
      missing.append(missing.length() > 0 ? " and " : "").append("the 'pick_first' load balancer (io.grpc.LoadBalancerProvider)");
    }
    if (missing.length() == 0) {
      return null;
    }
    return "gRPC cannot make connections, its registrations are incomplete although its jars are on the"
        + " classpath (missing: " + missing + "). The application was probably packaged into one jar without merging META-INF/services"
        + " files, so one jar's file replaced the others'. Merge them: maven-shade-plugin's"
        + " org.apache.maven.plugins.shade.resource.ServicesResourceTransformer, Gradle shadow's"
        + " mergeServiceFiles(), or maven-assembly-plugin's metaInf-services container descriptor handler.";
  }
}
