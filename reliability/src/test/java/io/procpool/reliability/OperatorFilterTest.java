package io.procpool.reliability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.procpool.testkit.NoLeakedProcessesExtension;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * An operator's {@code -Djdk.serialFilter} and the pool's {@code serialFilter(...)} both apply: neither
 * replaces the other, in the parent (results, queue items) and in the workers (arguments, queue items).
 * Runs in a child JVM, since the JVM-wide filter can be set only once per JVM.
 */
@ExtendWith(NoLeakedProcessesExtension.class)
class OperatorFilterTest {
  @TempDir Path tmp;

  static List<String> transports() {
    return Rel.processTransports();
  }

  @ParameterizedTest(name = "operator-filter[{0}]")
  @MethodSource("transports")
  @Timeout(value = 150, unit = TimeUnit.SECONDS)
  void operatorAndPoolFiltersBothApply(String transport) throws Exception {
    Process parent = new ProcessBuilder(
            Path.of(System.getProperty("java.home"), "bin", "java").toString(),
            "-Djdk.serialFilter=" + OperatorFilterMain.OPERATOR_FILTER,
            "-cp", System.getProperty("java.class.path"),
            OperatorFilterMain.class.getName(), transport, tmp.toString())
        .redirectError(ProcessBuilder.Redirect.INHERIT)
        .start();
    try {
      BufferedReader out = new BufferedReader(new InputStreamReader(parent.getInputStream(), StandardCharsets.UTF_8));
      CompletableFuture<List<String>> lines = CompletableFuture.supplyAsync(() -> {
        List<String> all = new ArrayList<>();
        try {
          for (String line; (line = out.readLine()) != null; ) {
            all.add(line);
          }
        } catch (java.io.IOException e) {
          all.add("read failed: " + e);
        }
        return all;
      });
      List<String> output = lines.get(120, TimeUnit.SECONDS);
      assertTrue(parent.waitFor(30, TimeUnit.SECONDS), "the parent JVM did not exit");
      assertEquals(0, parent.exitValue(), () -> "parent JVM failed; its output: " + output);
      Map<String, String> cases = new TreeMap<>();
      for (String line : output) {
        if (line.startsWith("CASE ")) {
          String[] p = line.split(" ", 3);
          cases.put(p[1], p[2]);
        }
      }
      assertEquals(6, cases.size(), () -> "expected 6 cases: " + output);
      List<String> accepted = cases.entrySet().stream().filter(e -> !e.getValue().startsWith("refused "))
          .map(e -> e.getKey() + ": " + e.getValue()).collect(Collectors.toList());
      List<String> constructed;
      try (Stream<Path> files = Files.list(tmp)) {
        constructed = files.map(f -> f.getFileName().toString()).sorted().collect(Collectors.toList());
      }
      Rel.summary(String.format("operator-filter[%s]: %d of 6 payloads refused with -Djdk.serialFilter and the pool's"
          + " serialFilter both set; constructed: %s", transport, 6 - accepted.size(), constructed));
      assertEquals(List.of(), accepted, "accepted although a filter refuses them");
      assertEquals(List.of(), constructed, "gadgets constructed (marker files)");
      for (String c : List.of("operator-result", "operator-argument", "operator-item-parent", "operator-item-worker")) {
        assertTrue(cases.get(c).contains(OperatorGadget.class.getName() + " is refused by the JVM-wide serial filter"),
            () -> c + " does not name the operator's filter: " + cases.get(c));
      }
      for (String c : List.of("pool-result", "pool-argument")) {
        assertTrue(cases.get(c).contains(Gadget.class.getName() + " is refused by the pool's serialFilter"),
            () -> c + " does not name the pool's filter: " + cases.get(c));
      }
      assertTrue(output.contains("SERVING 3") && output.contains("DONE"), output::toString);
    } finally {
      parent.destroyForcibly();
      parent.waitFor(30, TimeUnit.SECONDS);
    }
  }
}
