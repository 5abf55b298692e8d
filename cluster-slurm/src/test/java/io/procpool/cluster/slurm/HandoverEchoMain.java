package io.procpool.cluster.slurm;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.List;

/**
 * A stand-in worker for the real-Slurm staging test: prints its launch id, the transport properties of
 * its handover file (decoded) and, for each value that names a file, that file's content.
 */
public final class HandoverEchoMain {
  private HandoverEchoMain() {}

  public static void main(String[] args) throws Exception {
    System.out.println("launch " + System.getenv("PROCPOOL_LAUNCH_ID"));
    Path handover = Path.of(args[args.length - 1]);
    List<String> lines = Files.readAllLines(handover, StandardCharsets.US_ASCII);
    System.out.println("key bytes " + Base64.getDecoder().decode(lines.get(0)).length);
    Base64.Decoder d = Base64.getDecoder();
    for (String line : lines.subList(1, lines.size())) {
      if (line.isEmpty()) {
        continue;
      }
      String[] kv = line.split(" ");
      String k = new String(d.decode(kv[0]), StandardCharsets.UTF_8);
      String v = new String(d.decode(kv[1]), StandardCharsets.UTF_8);
      System.out.println("property " + k + "=" + v);
      if (v.startsWith("/") && Files.isRegularFile(Path.of(v))) {
        System.out.println("content " + Files.readString(Path.of(v)));
      }
    }
  }
}
