package io.procpool.core.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.procpool.api.RemoteException;
import io.procpool.api.TaskSerializationException;
import io.procpool.core.JavaSerializationCodec;
import java.io.InvalidClassException;
import java.io.Serializable;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import javax.management.BadAttributeValueExpException;
import org.junit.jupiter.api.Test;

class PayloadsTest {
  private final Payloads payloads = new Payloads(new JavaSerializationCodec(), SerialFilters.create(null, 1 << 20),
      PayloadsTest.class.getClassLoader());

  private Object roundTrip(Object value) {
    Buf b = new Buf(16);
    payloads.encode(value, b, "value");
    return payloads.decode(b.toByteBuffer(), "value");
  }

  @Test
  void fastPathValuesRoundTrip() {
    assertNull(roundTrip(null));
    assertEquals(42, roundTrip(42));
    assertEquals(-7L, roundTrip(-7L));
    assertEquals(Long.MIN_VALUE, roundTrip(Long.MIN_VALUE));
    assertEquals(3.25, roundTrip(3.25));
    assertEquals(Boolean.TRUE, roundTrip(true));
    assertEquals(Boolean.FALSE, roundTrip(false));
    assertEquals("héllo, 世界", roundTrip("héllo, 世界"));
    assertArrayEquals(new byte[] {1, 2, 3}, (byte[]) roundTrip(new byte[] {1, 2, 3}));
  }

  @Test
  void serializableObjectsRoundTrip() {
    List<Object> list = new ArrayList<>(List.of(1, "two", Map.of("k", 3L)));
    assertEquals(list, roundTrip(list));
  }

  @Test
  void unserializableValueFailsWithSpecificMessage() {
    Object notSerializable = new Object();
    TaskSerializationException e = assertThrows(TaskSerializationException.class,
        () -> payloads.encode(List.of(notSerializable), new Buf(16), "the task argument"));
    assertTrue(e.getMessage().contains("the task argument"), e.getMessage());
    assertTrue(e.getMessage().contains("java.lang.Object"), e.getMessage());
  }

  @Test
  void gadgetClassIsRefusedBeforeConstruction() {
    // BadAttributeValueExpException is the entry point of well-known gadget chains: its readObject
    // calls toString() on attacker-chosen data. The filter must refuse it.
    Buf b = new Buf(16);
    payloads.encode(new BadAttributeValueExpException("payload"), b, "value");
    TaskSerializationException e =
        assertThrows(TaskSerializationException.class, () -> payloads.decode(b.toByteBuffer(), "value"));
    assertInstanceOf(InvalidClassException.class, e.getCause());
    assertTrue(e.getMessage().contains("REJECTED"), e.getMessage());
  }

  @Test
  void userPatternIsConsultedFirst() {
    Payloads strict = new Payloads(new JavaSerializationCodec(), SerialFilters.create("!java.util.ArrayList", 1 << 20),
        PayloadsTest.class.getClassLoader());
    Buf b = new Buf(16);
    strict.encode(new ArrayList<>(List.of(1)), b, "value");
    assertThrows(TaskSerializationException.class, () -> strict.decode(b.toByteBuffer(), "value"));
  }

  @Test
  void corruptBytesFailCleanly() {
    assertThrows(TaskSerializationException.class, () -> payloads.decode(ByteBuffer.wrap(new byte[] {99}), "value"));
    assertThrows(TaskSerializationException.class,
        () -> payloads.decode(ByteBuffer.wrap(new byte[] {3, 0x7f, 0, 0, 0}), "value"));
    assertThrows(TaskSerializationException.class,
        () -> payloads.decode(ByteBuffer.wrap(new byte[] {8, 1, 2, 3}), "value"));
  }

  static final class Custom extends RuntimeException {
    private static final long serialVersionUID = 1L;

    Custom(String m) {
      super(m);
    }
  }

  static final class Unserializable extends RuntimeException {
    private static final long serialVersionUID = 1L;
    @SuppressWarnings("unused")
    private final transient Object ok = new Object();
    @SuppressWarnings({"unused", "serial"})
    private final Object notOk = new Object();

    Unserializable(String m) {
      super(m);
    }
  }

  @Test
  void serializableErrorIsRebuilt() {
    Buf b = new Buf(16);
    payloads.encodeError(new Custom("bad thing"), WorkerProtocol.ORIGIN_TASK, b);
    Payloads.DecodedError e = payloads.decodeError(b.toByteBuffer());
    assertEquals(WorkerProtocol.ORIGIN_TASK, e.origin);
    assertInstanceOf(Custom.class, e.error);
    assertEquals("bad thing", e.error.getMessage());
  }

  @Test
  void unserializableErrorBecomesRemoteException() {
    Buf b = new Buf(16);
    Unserializable original = new Unserializable("cannot travel");
    payloads.encodeError(original, WorkerProtocol.ORIGIN_TASK, b);
    Payloads.DecodedError e = payloads.decodeError(b.toByteBuffer());
    RemoteException remote = assertInstanceOf(RemoteException.class, e.error);
    assertEquals(Unserializable.class.getName(), remote.remoteClassName());
    assertEquals("cannot travel", remote.remoteMessage());
    assertEquals(original.getStackTrace()[0].getMethodName(), remote.getStackTrace()[0].getMethodName());
    assertEquals(original.getStackTrace()[0].getLineNumber(), remote.getStackTrace()[0].getLineNumber());
  }

  static final class Holder implements Serializable {
    private static final long serialVersionUID = 1L;
    final int[] data;

    Holder(int n) {
      data = new int[n];
    }
  }

  @Test
  void oversizedArrayIsRefusedByTheFilter() {
    Payloads small = new Payloads(new JavaSerializationCodec(), SerialFilters.create(null, 1000),
        PayloadsTest.class.getClassLoader());
    Buf b = new Buf(16);
    small.encode(new Holder(5000), b, "value");
    assertThrows(TaskSerializationException.class, () -> small.decode(b.toByteBuffer(), "value"));
  }
}
