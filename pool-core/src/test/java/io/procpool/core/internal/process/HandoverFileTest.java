package io.procpool.core.internal.process;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.procpool.api.cluster.WorkerCommand;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The handover file a cluster session writes ({@link WorkerCommand#handover}) is what a worker reads. */
class HandoverFileTest {
  @TempDir Path tmp;

  @Test
  void whatTheCommandEncodesTheWorkerReads() throws IOException {
    byte[] key = new byte[32];
    for (int i = 0; i < key.length; i++) {
      key[i] = (byte) (i * 7 - 100);
    }
    Map<String, String> props = new LinkedHashMap<>();
    props.put("grpc.tls.trustCerts", "/shared/ca.pem");
    props.put("empty", "");
    props.put("unicode ключ", "значение with spaces\tand tabs");
    WorkerCommand c = new WorkerCommand("procpool-1-1", Path.of("/usr/bin/java"), List.of(), List.of(), "Main",
        List.of("--connect", "h:1"), key, props);
    Path file = tmp.resolve("handover");
    Files.write(file, c.handover());
    ChildMain.Handover h = ChildMain.readHandover(file);
    assertArrayEquals(key, h.secret);
    assertEquals(props, h.properties);
    assertEquals(List.of("--connect", "h:1", "--handover-file", "/x"), c.arguments("/x"));
    assertTrue(!c.toString().contains(java.util.Base64.getEncoder().encodeToString(key)), "toString never shows the key");
  }

  @Test
  void aMissingHandoverFileSaysWhy() {
    IOException e = assertThrows(IOException.class, () -> ChildMain.readHandover(tmp.resolve("gone")));
    assertTrue(e.getMessage().contains("staging directory"), e.getMessage());
  }
}
