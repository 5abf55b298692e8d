package io.procpool.api.spi;

import io.procpool.api.Manager;
import java.util.Map;
import java.util.ServiceLoader;

/**
 * Starts and connects to managers; implemented by {@code io.procpool:manager-queue} and found with
 * {@link ServiceLoader}. Users never call it: {@link Manager#start()}, {@link Manager#builder()} and
 * {@link Manager#connect(String, byte[])} do.
 */
public interface ManagerFactory {

  /**
   * Starts a manager process and connects to it.
   *
   * @throws io.procpool.api.ManagerUnreachableException if it cannot be started or reached
   */
  Manager start(ManagerOptions options);

  /**
   * Connects to a running manager.
   *
   * @param transport the transport name
   * @param transportAddress the address as that transport understands it
   * @param authKey the manager's key
   * @throws io.procpool.api.ManagerUnreachableException if it cannot be reached or refuses the key
   */
  Manager connect(String transport, String transportAddress, byte[] authKey);

  /**
   * Connects to a running manager with transport settings (e.g. TLS trust). The default accepts only
   * empty settings.
   *
   * @param transport the transport name
   * @param transportAddress the address as that transport understands it
   * @param authKey the manager's key
   * @param transportProperties transport settings for this client
   * @throws io.procpool.api.ManagerUnreachableException if it cannot be reached or refuses the key
   * @throws UnsupportedOperationException if settings are given and this factory cannot use them
   */
  default Manager connect(String transport, String transportAddress, byte[] authKey,
      Map<String, String> transportProperties) {
    if (!transportProperties.isEmpty()) {
      throw new UnsupportedOperationException(getClass().getName() + " cannot connect with transport properties");
    }
    return connect(transport, transportAddress, authKey);
  }

  /**
   * The first factory on the classpath.
   *
   * @throws IllegalStateException if there is none
   */
  static ManagerFactory load() {
    return ServiceLoader.load(ManagerFactory.class, TransportRegistry.loader())
        .findFirst()
        .or(() -> ServiceLoader.load(ManagerFactory.class, ManagerFactory.class.getClassLoader()).findFirst())
        .orElseThrow(() -> {
          String unregistered =
              TransportRegistry.unregistered(ManagerFactory.class, "io.procpool.manager.DefaultManagerFactory", null);
          return new IllegalStateException("no procpool manager implementation on the classpath: "
              + (unregistered != null ? unregistered : "add the artifact io.procpool:manager-queue"));
        });
  }
}
