package io.procpool.core.internal.process;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.ByteArrayInputStream;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class PropertyLinesTest {
  @Test
  void roundTripKeepsOrderAndAnyCharacters() {
    Map<String, String> p = new LinkedHashMap<>();
    p.put("grpc.tls.trustCerts", "-----BEGIN CERTIFICATE-----\nAB CD\n-----END CERTIFICATE-----\n");
    p.put("é k", "");
    String text = PropertyLines.append(new StringBuilder(), p).toString();
    Map<String, String> back = new LinkedHashMap<>();
    for (String line : text.split("\n")) {
      Map.Entry<String, String> e = PropertyLines.parse(line);
      back.put(e.getKey(), e.getValue());
    }
    assertEquals(p, back);
    assertEquals(2, text.lines().count());
  }

  @Test
  void aLineWithoutKeyAndValueIsNotAProperty() {
    assertNull(PropertyLines.parse(""));
    assertNull(PropertyLines.parse("YQ=="));
    assertNull(PropertyLines.parse(" YQ=="));
    assertEquals(Map.entry("a", ""), PropertyLines.parse("YQ== "));
    assertEquals(Map.entry("a", "b"), PropertyLines.parse("YQ== Yg==\r"));
    assertThrows(IllegalArgumentException.class, () -> PropertyLines.parse("a!b c"));
  }

  @Test
  void theChildReadsWhatTheParentWrites() throws Exception {
    Map<String, String> p = Map.of("k", "v w");
    byte[] block = ChildJvm.encodeProperties(p);
    byte[] secret = {1, 2, 3};
    byte[] all = new byte[block.length + 5];
    System.arraycopy("AQID\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII), 0, all, 0, 5);
    System.arraycopy(block, 0, all, 5, block.length);
    ByteArrayInputStream in = new ByteArrayInputStream(all);
    org.junit.jupiter.api.Assertions.assertArrayEquals(secret, ParentLink.readSecret(in));
    assertEquals(p, ParentLink.readProperties(in));
  }
}
