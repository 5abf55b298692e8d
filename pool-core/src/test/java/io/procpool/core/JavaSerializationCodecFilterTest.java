package io.procpool.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.InvalidClassException;
import java.io.ObjectInputFilter;
import java.io.Serializable;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The codec adds the caller's filter to the operator's {@code -Djdk.serialFilter} instead of replacing
 * it: both apply. Runs in a child JVM, since the JVM-wide filter can be set only once per JVM.
 */
class JavaSerializationCodecFilterTest {
  /** Named only by the operator's filter. */
  static final class OperatorForbidden implements Serializable {
    private static final long serialVersionUID = 1L;
  }

  /** Named only by the caller's filter. */
  static final class CallerForbidden implements Serializable {
    private static final long serialVersionUID = 1L;
  }

  /** The child JVM: prints one line per value, {@code <simple name> accepted|refused}. */
  public static final class Child {
    public static void main(String[] args) throws Exception {
      JavaSerializationCodec codec = new JavaSerializationCodec();
      ObjectInputFilter caller = info -> info.serialClass() == CallerForbidden.class
          ? ObjectInputFilter.Status.REJECTED : ObjectInputFilter.Status.ALLOWED; // allows all else explicitly
      for (Object value : new Object[] {new OperatorForbidden(), new CallerForbidden(), "a string", new int[] {1}}) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        codec.encode(value, b);
        String outcome;
        try {
          codec.decode(ByteBuffer.wrap(b.toByteArray()), Child.class.getClassLoader(), caller);
          outcome = "accepted";
        } catch (InvalidClassException e) {
          outcome = "refused";
        }
        System.out.println(value.getClass().getSimpleName() + " " + outcome);
      }
    }
  }

  @Test
  @Timeout(60)
  void theOperatorsFilterStillAppliesWhenTheCallerSetsOne() throws Exception {
    Process child = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Djdk.serialFilter=!" + OperatorForbidden.class.getName(),
        "-cp", System.getProperty("java.class.path"), Child.class.getName())
        .redirectError(ProcessBuilder.Redirect.INHERIT)
        .start();
    try {
      child.getOutputStream().close();
      String out = new String(child.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertTrue(child.waitFor(30, TimeUnit.SECONDS), "the child JVM did not exit");
      assertEquals(0, child.exitValue(), out);
      assertEquals("OperatorForbidden refused\nCallerForbidden refused\nString accepted\nint[] accepted\n", out);
    } finally {
      child.destroyForcibly();
      child.waitFor(30, TimeUnit.SECONDS);
    }
  }
}
