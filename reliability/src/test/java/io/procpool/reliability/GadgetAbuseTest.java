package io.procpool.reliability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.fail;

import io.procpool.api.AsyncResult;
import io.procpool.api.ProcessPool;
import io.procpool.api.TaskSerializationException;
import io.procpool.testkit.NoLeakedProcessesExtension;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import javax.management.BadAttributeValueExpException;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Payloads carrying a class the ObjectInputFilter refuses are refused before construction: as a task
 * argument (in the worker) and as a result (in the parent). The pool serves on after each.
 */
@ExtendWith(NoLeakedProcessesExtension.class)
class GadgetAbuseTest {
  @TempDir Path tmp;

  static List<String> transports() {
    List<String> t = new ArrayList<>(Rel.processTransports());
    t.add("threads");
    return t;
  }

  static String describe(Object o) {
    return "decoded " + o.getClass().getName();
  }

  static Object badAttributeValue() {
    return new BadAttributeValueExpException("gadget");
  }

  @ParameterizedTest(name = "gadgets[{0}]")
  @MethodSource("transports")
  @Timeout(value = 120, unit = TimeUnit.SECONDS)
  void refusedGadgetsAreNeverConstructed(String transport) throws Exception {
    Path argMarker = tmp.resolve("arg-constructed");
    Path resultMarker = tmp.resolve("result-constructed");
    int refused = 0;
    try (ProcessPool pool = ProcessPool.builder().transport(transport).processes(2)
        .serialFilter("!io.procpool.reliability.Gadget").build()) {
      List<String> cases = new ArrayList<>();
      // 1. The built-in reject list, as an argument: the worker refuses it.
      refused += expectRefused("BadAttributeValueExpException as argument",
          pool.applyAsync(GadgetAbuseTest::describe, badAttributeValue()), cases);
      assertEquals(3, pool.apply((Integer x) -> x + 1, 2));
      // 2. ... as a result: the parent refuses it.
      refused += expectRefused("BadAttributeValueExpException as result",
          pool.applyAsync(GadgetAbuseTest::badAttributeValue), cases);
      assertEquals(3, pool.apply((Integer x) -> x + 1, 2));
      // 3. The user's filter, with a class whose readObject leaves a trace: never constructed.
      refused += expectRefused("Gadget as argument",
          pool.applyAsync(GadgetAbuseTest::describe, new Gadget(argMarker.toString())), cases);
      assertFalse(Files.exists(argMarker), () -> "the refused argument was constructed: " + read(argMarker));
      String marker = resultMarker.toString();
      refused += expectRefused("Gadget as result", pool.applyAsync(() -> new Gadget(marker)), cases);
      assertFalse(Files.exists(resultMarker), () -> "the refused result was constructed: " + read(resultMarker));
      assertEquals(3, pool.apply((Integer x) -> x + 1, 2));
      Rel.summary(String.format("gadgets[%s]: %d of 4 payloads refused before construction, pool serving after each: %s",
          transport, refused, cases));
    }
  }

  private static int expectRefused(String what, AsyncResult<?> result, List<String> cases) throws Exception {
    try {
      Object v = result.get(60, TimeUnit.SECONDS);
      fail(what + " was accepted: " + v);
      return 0;
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      assertNotNull(cause);
      assertInstanceOf(TaskSerializationException.class, cause, () -> what + ": expected TaskSerializationException, got " + chain(cause));
      cases.add(what + " -> " + cause.getClass().getSimpleName());
      return 1;
    }
  }

  private static String chain(Throwable t) {
    StringBuilder sb = new StringBuilder();
    for (Throwable x = t; x != null; x = x.getCause()) {
      sb.append(sb.length() == 0 ? "" : " <- ").append(x);
    }
    return sb.toString();
  }

  private static String read(Path p) {
    try {
      return Files.readString(p);
    } catch (java.io.IOException e) {
      return e.toString();
    }
  }
}
