package io.procpool.core.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.procpool.api.spi.TransportOptions;
import io.procpool.core.JavaSerializationCodec;
import java.io.ByteArrayOutputStream;
import java.io.InvalidClassException;
import java.io.ObjectInputFilter;
import java.io.ObjectOutputStream;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import javax.management.BadAttributeValueExpException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The one serial filter: arrays are bounded by the bytes they would allocate (not their length), its
 * limits hold even for classes the user's pattern allows, and the queue-item filter of a worker thread
 * carries its pool's pattern.
 */
@Timeout(30)
class SerialFiltersTest {
  private static final JavaSerializationCodec CODEC = new JavaSerializationCodec();
  private static final int MIB = 1 << 20;

  /** The codec's encoding (tag + Java serialization stream) of an array whose length field says {@code length}. */
  private static byte[] arrayClaiming(Object emptyArray, int length) throws Exception {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    CODEC.encode(emptyArray, b);
    byte[] bytes = b.toByteArray();
    // An empty array's stream ends with its 4-byte length (0): claim another one.
    ByteBuffer.wrap(bytes, bytes.length - 4, 4).putInt(length);
    return bytes;
  }

  private static Object decode(byte[] bytes, ObjectInputFilter filter) throws Exception {
    return CODEC.decode(ByteBuffer.wrap(bytes), SerialFiltersTest.class.getClassLoader(), filter);
  }

  @Test
  void aTinyStreamCannotRequestAHugeArray() throws Exception {
    byte[] stream = arrayClaiming(new long[0], 64 * MIB); // long[64M]: 512 MiB
    assertTrue(stream.length < 40, "the stream is " + stream.length + " bytes");
    ObjectInputFilter filter = SerialFilters.create(null, TransportOptions.DEFAULT_MAX_FRAME_SIZE);
    InvalidClassException e = assertThrows(InvalidClassException.class, () -> decode(stream, filter));
    String why = SerialFilters.explain(e);
    assertTrue(why.contains("an array long[67108864] would take 536870912 bytes, over the limit of 67108864"), why);
  }

  @Test
  void arraysAreBoundedInBytesByComponentType() throws Exception {
    ObjectInputFilter filter = SerialFilters.create(null, MIB);
    // Each claims one element more than fits in 1 MiB; the stream stops right after the length.
    for (Object empty : new Object[] {new long[0], new double[0], new int[0], new float[0], new char[0],
        new short[0], new Object[0], new String[0]}) {
      int elementBytes = empty instanceof long[] || empty instanceof double[] ? 8
          : empty instanceof char[] || empty instanceof short[] ? 2 : 4;
      byte[] stream = arrayClaiming(empty, MIB / elementBytes + 1);
      InvalidClassException e = assertThrows(InvalidClassException.class, () -> decode(stream, filter),
          empty.getClass().getTypeName());
      assertTrue(SerialFilters.explain(e).contains("over the limit of " + MIB), empty.getClass().getTypeName());
    }
    // At the limit an array is fine.
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    CODEC.encode(new long[MIB / 8 - 16], b);
    assertEquals(MIB / 8 - 16, ((long[]) decode(b.toByteArray(), filter)).length);
  }

  @Test
  void collectionsSizedByTheirElementsStillDecode() throws Exception {
    List<Integer> list = new ArrayList<>();
    Map<Integer, Integer> map = new HashMap<>();
    for (int i = 0; i < 100_000; i++) {
      list.add(i);
      map.put(i, i);
    }
    ObjectInputFilter filter = SerialFilters.create(null, 4 * MIB);
    for (Object o : new Object[] {list, map}) {
      ByteArrayOutputStream b = new ByteArrayOutputStream();
      CODEC.encode(o, b);
      assertEquals(o, decode(b.toByteArray(), filter));
    }
  }

  @Test
  void theUsersAllowListDoesNotLiftTheLimits() throws Exception {
    ObjectInputFilter filter = SerialFilters.create("java.**;[J;!*", MIB);
    byte[] stream = arrayClaiming(new long[0], MIB / 8 + 1);
    InvalidClassException e = assertThrows(InvalidClassException.class, () -> decode(stream, filter));
    assertTrue(SerialFilters.explain(e).contains("would take"), e.toString());
  }

  @Test
  void reasonsNameTheRuleAndTheClass() throws Exception {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    CODEC.encode(new BadAttributeValueExpException("x"), b);
    InvalidClassException e = assertThrows(InvalidClassException.class,
        () -> decode(b.toByteArray(), SerialFilters.create(null, MIB)));
    assertEquals("class javax.management.BadAttributeValueExpException is on procpool's built-in reject list"
        + " of deserialization gadgets (java.io.InvalidClassException: filter status: REJECTED)",
        SerialFilters.explain(e));

    ByteArrayOutputStream c = new ByteArrayOutputStream();
    CODEC.encode(new ArrayList<>(List.of(1)), c);
    InvalidClassException u = assertThrows(InvalidClassException.class,
        () -> decode(c.toByteArray(), SerialFilters.create("!java.util.ArrayList", MIB)));
    assertEquals("class java.util.ArrayList is refused by the pool's serialFilter \"!java.util.ArrayList\""
        + " (java.io.InvalidClassException: filter status: REJECTED)", SerialFilters.explain(u));
  }

  @Test
  void queueItemsOnAWorkerThreadPassItsPoolsPattern() throws Exception {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    CODEC.encode(new ArrayList<>(List.of(1)), b);
    byte[] item = b.toByteArray();
    assertEquals(List.of(1), decode(item, SerialFilters.forItems()));
    SerialFilters.workerPattern("!java.util.ArrayList", false);
    try {
      InvalidClassException e = assertThrows(InvalidClassException.class, () -> decode(item, SerialFilters.forItems()));
      assertTrue(SerialFilters.explain(e).contains("serialFilter"), e.toString());
    } finally {
      SerialFilters.clearThreadPattern();
    }
    assertEquals(List.of(1), decode(item, SerialFilters.forItems()));

    ByteArrayOutputStream g = new ByteArrayOutputStream();
    CODEC.encode(new BadAttributeValueExpException("x"), g);
    assertThrows(InvalidClassException.class, () -> decode(g.toByteArray(), SerialFilters.forItems()));
  }
}
