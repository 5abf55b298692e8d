package io.procpool.core.internal.process;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.Test;

class ChildArgsTest {
  private static final String USAGE = "--transport NAME --parent-pid P [--max-frame-size B] [--property K=V]...";
  private static final ChildArgs.Syntax SYNTAX = new ChildArgs.Syntax(USAGE)
      .required("--transport", "--parent-pid")
      .optional("--max-frame-size")
      .ints("--max-frame-size")
      .longs("--parent-pid")
      .properties();

  private static String refused(ChildArgs.Syntax syntax, String... argv) {
    String message = assertThrows(IllegalArgumentException.class, () -> ChildArgs.parse(argv, syntax)).getMessage();
    assertTrue(message.endsWith("; usage: " + syntax.usage()), message);
    return message.substring(0, message.length() - ("; usage: " + syntax.usage()).length());
  }

  @Test
  void parsesPairsAndRepeatedProperties() {
    ChildArgs a = ChildArgs.parse(new String[] {"--transport", "pipes", "--property", "a=1", "--parent-pid",
        "12345678901", "--property", "b=x=y", "--property", "a=2"}, SYNTAX);
    assertEquals("pipes", a.get("--transport"));
    assertEquals(12345678901L, a.longValue("--parent-pid"));
    assertTrue(a.has("--parent-pid"));
    assertFalse(a.has("--max-frame-size"));
    assertNull(a.get("--max-frame-size"));
    assertEquals(7, a.intValue("--max-frame-size", 7));
    assertEquals("d", a.get("--max-frame-size", "d"));
    assertEquals(Map.of("a", "2", "b", "x=y"), a.properties());
    a.properties().clear();
    assertEquals(2, a.properties().size(), "properties() is a copy");
  }

  @Test
  void intOption() {
    ChildArgs a = ChildArgs.parse(new String[] {"--transport", "t", "--parent-pid", "1", "--max-frame-size", "4096"},
        SYNTAX);
    assertEquals(4096, a.intValue("--max-frame-size", 7));
  }

  @Test
  void badArgumentsAreRefusedWithClearMessages() {
    assertEquals("missing option --parent-pid", refused(SYNTAX, "--transport", "pipes"));
    assertEquals("missing option --transport", refused(SYNTAX));
    assertEquals("unexpected argument 'pipes'", refused(SYNTAX, "pipes", "--transport", "x"));
    assertEquals("unknown option --conect", refused(SYNTAX, "--conect", "x", "--transport", "t"));
    assertEquals("option --transport needs a value", refused(SYNTAX, "--parent-pid", "1", "--transport"));
    assertEquals("option --transport given twice",
        refused(SYNTAX, "--transport", "a", "--transport", "b", "--parent-pid", "1"));
    assertEquals("--property needs KEY=VALUE, got 'novalue'",
        refused(SYNTAX, "--transport", "t", "--parent-pid", "1", "--property", "novalue"));
    assertEquals("--property needs KEY=VALUE, got '=v'",
        refused(SYNTAX, "--transport", "t", "--parent-pid", "1", "--property", "=v"));
    assertEquals("option --parent-pid needs a whole number, got 'abc'",
        refused(SYNTAX, "--transport", "t", "--parent-pid", "abc"));
    assertEquals("option --max-frame-size needs a whole number, got '99999999999'",
        refused(SYNTAX, "--transport", "t", "--parent-pid", "1", "--max-frame-size", "99999999999"));
  }

  @Test
  void propertiesOnlyWhereTheSyntaxTakesThem() {
    ChildArgs.Syntax noProperties = new ChildArgs.Syntax("--transport NAME").required("--transport");
    assertEquals("unknown option --property", refused(noProperties, "--transport", "t", "--property", "a=b"));
  }
}
