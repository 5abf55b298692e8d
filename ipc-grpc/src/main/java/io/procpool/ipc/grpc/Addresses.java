package io.procpool.ipc.grpc;

import java.net.InetSocketAddress;

/** The transport's addresses: {@code host:port}, with an IPv6 host in brackets. */
final class Addresses {
  private Addresses() {}

  /** {@code host:port} into an unresolved socket address; accepts {@code [v6]:port}. */
  static InetSocketAddress parse(String address) {
    int colon = address.lastIndexOf(':');
    if (colon <= 0 || colon == address.length() - 1) {
      throw new IllegalArgumentException("grpc: address must be host:port, got '" + address + "'");
    }
    String host = address.substring(0, colon);
    if (host.startsWith("[") && host.endsWith("]")) {
      host = host.substring(1, host.length() - 1);
    }
    int port;
    try {
      port = Integer.parseInt(address.substring(colon + 1));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("grpc: bad port in address '" + address + "'", e);
    }
    if (port < 0 || port > 65535) {
      throw new IllegalArgumentException("grpc: port out of range in address '" + address + "'");
    }
    return InetSocketAddress.createUnresolved(host, port);
  }

  static String format(String host, int port) {
    return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
  }
}
