package io.procpool.testkit;

import io.procpool.api.ManagedQueue;
import io.procpool.api.Manager;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.InvalidObjectException;
import java.io.ObjectInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;

/**
 * A fresh JVM for a test of {@link AbstractManagedQueueContractTest} that reads a persisted queue proxy
 * (args: file, manager address; the key, Base64, on stdin): first without knowing the key (prints
 * {@code REFUSED <message>}), then after {@code Manager.connect} (prints {@code GOT <item>}).
 */
public final class ProxyReaderMain {
  private ProxyReaderMain() {}

  public static void main(String[] args) throws Exception {
    Path file = Path.of(args[0]);
    byte[] key = Base64.getDecoder().decode(
        new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)).readLine().trim());
    try {
      read(file);
      System.out.println("READ WITHOUT THE KEY");
    } catch (InvalidObjectException e) {
      System.out.println("REFUSED " + e.getMessage());
    }
    try (Manager m = Manager.connect(args[1], key)) {
      ManagedQueue<String> q = read(file);
      System.out.println("GOT " + q.get(Duration.ofSeconds(30)));
      q.close();
    }
    System.out.flush();
    System.exit(0);
  }

  @SuppressWarnings("unchecked")
  private static ManagedQueue<String> read(Path file) throws Exception {
    try (ObjectInputStream in = new ObjectInputStream(Files.newInputStream(file))) {
      return (ManagedQueue<String>) in.readObject();
    }
  }
}
