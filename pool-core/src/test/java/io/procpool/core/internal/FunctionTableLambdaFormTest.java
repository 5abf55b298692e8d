package io.procpool.core.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.procpool.api.SerializableFunction;
import java.lang.invoke.SerializedLambda;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A lambda's serialized form, read without reflective access to its class: what lets a capturing
 * lambda of an application module that does not open its packages count as unchangeable.
 */
class FunctionTableLambdaFormTest {
  /** Fails the test if serialization went past the lambda into what it captured. */
  static final class Tripwire implements java.io.Serializable {
    private static final long serialVersionUID = 1L;

    private Object writeReplace() {
      throw new AssertionError("a captured value was serialized");
    }
  }

  @Test
  void theProbeReadsTheSameFormAsReflectionWithoutWritingTheCapturedValues() {
    String prefix = "p";
    Tripwire trip = new Tripwire();
    SerializableFunction<String, String> fn = s -> prefix + s + trip.hashCode();
    SerializedLambda probed = FunctionTable.LambdaFormProbe.serializedForm(fn);
    assertNotNull(probed);
    SerializedLambda reflected = FunctionTable.Immutability.serializedForm(fn);
    assertEquals(reflected.getImplMethodName(), probed.getImplMethodName());
    assertEquals(2, probed.getCapturedArgCount());
    assertEquals("p", probed.getCapturedArg(0));
    assertTrue(probed.getCapturedArg(1) instanceof Tripwire);
  }

  @Test
  void notALambdaOrNotSerializableHasNoForm() {
    assertNull(FunctionTable.LambdaFormProbe.serializedForm("a string"));
    assertNull(FunctionTable.LambdaFormProbe.serializedForm(new ArrayList<>()));
    Runnable plain = () -> { };
    assertNull(FunctionTable.LambdaFormProbe.serializedForm(plain));
  }

  @Test
  void capturingOnlyImmutableValuesIsUnchangeableAndAMutableCaptureIsNot() {
    int k = 3;
    SerializableFunction<Integer, Integer> immutable = x -> x * k;
    assertTrue(FunctionTable.Immutability.of(immutable));
    List<Integer> list = new ArrayList<>();
    SerializableFunction<Integer, Integer> mutable = x -> x + list.size();
    assertFalse(FunctionTable.Immutability.of(mutable));
  }
}
