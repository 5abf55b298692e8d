package io.procpool.reliability;

import java.io.IOException;
import java.io.ObjectInputStream;
import java.io.Serializable;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A stand-in for a deserialization gadget: its {@code readObject} leaves a marker file, so a test can
 * tell whether a refused payload was constructed anyway.
 */
final class Gadget implements Serializable {
  private static final long serialVersionUID = 1L;
  final String marker;

  Gadget(String marker) {
    this.marker = marker;
  }

  private void readObject(ObjectInputStream in) throws IOException, ClassNotFoundException {
    in.defaultReadObject();
    Files.writeString(Path.of(marker), "constructed in pid " + ProcessHandle.current().pid());
  }
}
