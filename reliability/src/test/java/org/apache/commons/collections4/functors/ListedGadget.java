package org.apache.commons.collections4.functors;

import java.io.IOException;
import java.io.ObjectInputStream;
import java.io.Serializable;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A test stand-in for a real deserialization gadget, in a package on procpool's built-in reject list
 * (commons-collections4's functors, which are not on this classpath): its {@code readObject} leaves a
 * marker file, so a test can tell whether a refused payload was constructed anyway.
 */
public final class ListedGadget implements Serializable {
  private static final long serialVersionUID = 1L;
  private final String marker;

  public ListedGadget(String marker) {
    this.marker = marker;
  }

  private void readObject(ObjectInputStream in) throws IOException, ClassNotFoundException {
    in.defaultReadObject();
    Files.writeString(Path.of(marker), "constructed in pid " + ProcessHandle.current().pid());
  }
}
