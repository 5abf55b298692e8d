package io.procpool.core.internal;

import java.io.ObjectInputFilter;

/**
 * The {@link ObjectInputFilter} applied to every decode, in the parent and in the workers: an
 * optional user pattern first, then a built-in reject list of classes known from deserialization
 * gadget chains, then size limits. Everything else is allowed: tasks are user classes from the
 * shared classpath, and frames come only from authenticated peers.
 */
final class SerialFilters {
  private SerialFilters() {}

  /** Classes that appear in well-known deserialization gadget chains. */
  static final String REJECTED =
      "!org.apache.commons.collections.functors.*;"
          + "!org.apache.commons.collections4.functors.*;"
          + "!org.apache.commons.beanutils.BeanComparator;"
          + "!org.codehaus.groovy.runtime.*;"
          + "!com.sun.org.apache.xalan.internal.xsltc.trax.*;"
          + "!org.apache.xalan.xsltc.trax.*;"
          + "!org.springframework.beans.factory.*;"
          + "!org.springframework.core.SerializableTypeWrapper*;"
          + "!com.mchange.v2.c3p0.**;"
          + "!com.sun.rowset.*;"
          + "!javax.management.BadAttributeValueExpException;"
          + "!java.rmi.server.UnicastRemoteObject;"
          + "!java.rmi.server.RemoteObjectInvocationHandler;"
          + "!sun.rmi.**;"
          + "!bsh.**;"
          + "!org.python.core.**;"
          + "!clojure.**;"
          + "!org.mozilla.javascript.**";

  private static final ObjectInputFilter BUILT_IN = ObjectInputFilter.Config.createFilter(REJECTED);

  /**
   * The filter for a pool.
   *
   * @param userPattern a JEP 290 pattern consulted first, or {@code null}
   * @param maxBytes the largest stream accepted (the frame size)
   */
  static ObjectInputFilter create(String userPattern, long maxBytes) {
    ObjectInputFilter user = userPattern == null ? null : ObjectInputFilter.Config.createFilter(userPattern);
    return info -> {
      if (user != null) {
        ObjectInputFilter.Status s = user.checkInput(info);
        if (s != ObjectInputFilter.Status.UNDECIDED) {
          return s;
        }
      }
      ObjectInputFilter.Status s = BUILT_IN.checkInput(info);
      if (s == ObjectInputFilter.Status.REJECTED) {
        return s;
      }
      if (info.depth() > 2000 || info.streamBytes() > maxBytes || info.arrayLength() > maxBytes) {
        return ObjectInputFilter.Status.REJECTED;
      }
      return ObjectInputFilter.Status.ALLOWED;
    };
  }
}
