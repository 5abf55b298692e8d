package io.procpool.reliability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.procpool.api.AsyncResult;
import io.procpool.api.ManagedQueue;
import io.procpool.api.Manager;
import io.procpool.api.ProcessPool;
import io.procpool.api.TaskSerializationException;
import io.procpool.testkit.NoLeakedProcessesExtension;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import javax.management.BadAttributeValueExpException;
import org.apache.commons.collections4.functors.ListedGadget;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Payloads carrying a class the ObjectInputFilter refuses are refused before construction: as a task
 * argument (in the worker), as a result (in the parent), and as a queue item (taken in the parent or
 * in a worker, where the pool's own filter applies too). The pool and the queue serve on after each.
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

  /** A task that takes one item from the queue. */
  static String take(ManagedQueue<Object> q) {
    return describe(q.get(Duration.ofSeconds(60)));
  }

  @ParameterizedTest(name = "queue-gadgets[{0}]")
  @MethodSource("transports")
  @Timeout(value = 180, unit = TimeUnit.SECONDS)
  void gadgetItemsAreRefusedInTheParentAndInWorkers(String transport) throws Exception {
    Path inParent = tmp.resolve("listed-constructed-in-parent");
    Path inWorker = tmp.resolve("listed-constructed-in-worker");
    int refused = 0;
    List<String> cases = new ArrayList<>();
    try (Manager manager = Manager.builder().transport(managerTransport(transport)).build();
        ProcessPool pool = ProcessPool.builder().transport(transport).processes(1).build()) {
      ManagedQueue<Object> q = manager.queue();
      // The built-in reject list, taken in the parent ...
      q.put(new ListedGadget(inParent.toString()));
      refused += expectRefusedItem("listed gadget taken in the parent", q::get,
          ListedGadget.class.getName() + " is on procpool's built-in reject list", cases);
      assertFalse(Files.exists(inParent), () -> "the refused item was constructed: " + read(inParent));
      q.put(badAttributeValue());
      refused += expectRefusedItem("BadAttributeValueExpException taken in the parent", q::get,
          "javax.management.BadAttributeValueExpException is on procpool's built-in reject list", cases);
      q.put("after");
      assertEquals("after", q.get());
      // ... and in a worker.
      q.put(new ListedGadget(inWorker.toString()));
      refused += expectRefused("listed gadget taken in a worker", pool.applyAsync(GadgetAbuseTest::take, q),
          ListedGadget.class.getName() + " is on procpool's built-in reject list", cases);
      assertFalse(Files.exists(inWorker), () -> "the refused item was constructed: " + read(inWorker));
      q.put(badAttributeValue());
      refused += expectRefused("BadAttributeValueExpException taken in a worker",
          pool.applyAsync(GadgetAbuseTest::take, q), "built-in reject list", cases);
      q.put(7);
      assertEquals("decoded java.lang.Integer", pool.apply(GadgetAbuseTest::take, q));
      Rel.summary(String.format("queue-gadgets[%s]: %d of 4 gadget queue items refused before construction, queue"
          + " and pool serving after each: %s", transport, refused, cases));
    }
  }

  @ParameterizedTest(name = "queue-pool-filter[{0}]")
  @MethodSource("transports")
  @Timeout(value = 180, unit = TimeUnit.SECONDS)
  void thePoolsFilterAppliesToItemsTakenInItsWorkers(String transport) throws Exception {
    Path inWorker = tmp.resolve("gadget-constructed-in-worker");
    List<String> cases = new ArrayList<>();
    try (Manager manager = Manager.builder().transport(managerTransport(transport)).build();
        ProcessPool pool = ProcessPool.builder().transport(transport).processes(1)
            .serialFilter("!io.procpool.reliability.Gadget").build()) {
      ManagedQueue<Object> q = manager.queue();
      q.put(new Gadget(inWorker.toString()));
      int refused = expectRefused("Gadget taken in a worker", pool.applyAsync(GadgetAbuseTest::take, q),
          "io.procpool.reliability.Gadget is refused by the pool's serialFilter \"!io.procpool.reliability.Gadget\"",
          cases);
      assertFalse(Files.exists(inWorker), () -> "the refused item was constructed: " + read(inWorker));
      q.put(7);
      assertEquals("decoded java.lang.Integer", pool.apply(GadgetAbuseTest::take, q));
      Rel.summary(String.format("queue-pool-filter[%s]: %d of 1 queue item the pool's serialFilter forbids refused"
          + " in a worker before construction, queue and pool serving after: %s", transport, refused, cases));
    }
  }

  /** The manager runs in its own process: over pipes when the pool's workers are threads. */
  private static String managerTransport(String transport) {
    return "threads".equals(transport) ? "pipes" : transport;
  }

  private static int expectRefusedItem(String what, java.util.function.Supplier<Object> get, String reason,
      List<String> cases) {
    try {
      Object v = get.get();
      fail(what + " was accepted: " + v);
      return 0;
    } catch (TaskSerializationException e) {
      assertTrue(e.getMessage().contains(reason), () -> what + ": the message does not say \"" + reason + "\": " + e);
      cases.add(what + " -> " + e.getClass().getSimpleName());
      return 1;
    }
  }

  private static int expectRefused(String what, AsyncResult<?> result, String reason, List<String> cases)
      throws Exception {
    int n = expectRefused(what, result, cases);
    try {
      result.get(1, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      assertTrue(String.valueOf(e.getCause().getMessage()).contains(reason),
          () -> what + ": the message does not say \"" + reason + "\": " + chain(e.getCause()));
    }
    return n;
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
