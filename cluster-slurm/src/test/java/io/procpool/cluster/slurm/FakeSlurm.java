package io.procpool.cluster.slurm;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;

/**
 * Fake {@code sbatch}, {@code squeue}, {@code scancel} in a directory: each records its arguments (one
 * call per block, one argument per line, NUL-terminated) and answers with what the test set.
 */
final class FakeSlurm {
  final Path bin;

  FakeSlurm(Path bin) throws IOException {
    this.bin = Files.createDirectories(bin);
    for (String tool : List.of("sbatch", "squeue", "scancel")) {
      Path p = bin.resolve(tool);
      Files.writeString(p, "#!/bin/sh\n"
          + "d=$(dirname \"$0\"); t=$(basename \"$0\")\n"
          + "for a in \"$@\"; do printf '%s\\0' \"$a\"; done >> \"$d/$t.args\"\n"
          + "printf '\\n' >> \"$d/$t.args\"\n"
          + "env > \"$d/$t.env\"\n"
          + "[ -f \"$d/$t.hang\" ] && exec sleep 600\n"
          + "[ -f \"$d/$t.out\" ] && cat \"$d/$t.out\"\n"
          + "[ -f \"$d/$t.err\" ] && cat \"$d/$t.err\" >&2\n"
          + "exit $(cat \"$d/$t.rc\" 2>/dev/null || echo 0)\n");
      Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwx------"));
    }
    answer("sbatch", "4242\n", "", 0);
    answer("squeue", "", "", 0);
  }

  /** What {@code tool} prints and returns from now on. */
  void answer(String tool, String stdout, String stderr, int rc) throws IOException {
    Files.writeString(bin.resolve(tool + ".out"), stdout);
    Files.writeString(bin.resolve(tool + ".err"), stderr);
    Files.writeString(bin.resolve(tool + ".rc"), Integer.toString(rc));
  }

  /** From now on {@code tool} hangs (its process is the {@code sleep}, so killing it ends it). */
  void hang(String tool) throws IOException {
    Files.writeString(bin.resolve(tool + ".hang"), "");
  }

  /** The argument lists of every call of {@code tool} so far. */
  List<List<String>> calls(String tool) throws IOException {
    Path f = bin.resolve(tool + ".args");
    List<List<String>> all = new ArrayList<>();
    if (!Files.exists(f)) {
      return all;
    }
    for (String line : Files.readString(f, StandardCharsets.UTF_8).split("\n", -1)) {
      if (line.isEmpty()) {
        continue;
      }
      List<String> args = new ArrayList<>(List.of(line.split("\0", -1)));
      args.remove(args.size() - 1); // after the last NUL
      all.add(args);
    }
    return all;
  }

  /** The names of the environment variables of the last call of {@code tool}. */
  java.util.Set<String> lastEnvironment(String tool) throws IOException {
    java.util.Set<String> names = new java.util.TreeSet<>();
    for (String line : Files.readAllLines(bin.resolve(tool + ".env"))) {
      int eq = line.indexOf('=');
      if (eq > 0) {
        names.add(line.substring(0, eq));
      }
    }
    return names;
  }

  List<String> lastCall(String tool) throws IOException {
    List<List<String>> c = calls(tool);
    if (c.isEmpty()) {
      throw new AssertionError(tool + " was never called");
    }
    return c.get(c.size() - 1);
  }
}
