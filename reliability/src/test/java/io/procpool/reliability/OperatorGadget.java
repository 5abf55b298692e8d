package io.procpool.reliability;

import java.io.IOException;
import java.io.ObjectInputStream;
import java.io.Serializable;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Like {@link Gadget} (its {@code readObject} leaves a marker file), but a class of its own, so that
 * only the operator's JVM-wide filter ({@code -Djdk.serialFilter}) names it while the pool's filter
 * names {@link Gadget}.
 */
final class OperatorGadget implements Serializable {
  private static final long serialVersionUID = 1L;
  final String marker;

  OperatorGadget(String marker) {
    this.marker = marker;
  }

  private void readObject(ObjectInputStream in) throws IOException, ClassNotFoundException {
    in.defaultReadObject();
    Files.writeString(Path.of(marker), "constructed in pid " + ProcessHandle.current().pid());
  }
}
