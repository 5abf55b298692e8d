package io.procpool.core.internal.process;

import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * The command line of a child's main class: {@code --name value} pairs, and for a child that takes
 * them, repeated {@code --property KEY=VALUE}. Checked against a {@link Syntax}: an unknown, repeated
 * or valueless option, a missing required one, a malformed number or property is refused with an
 * {@link IllegalArgumentException} whose message says what is wrong and ends with the usage line.
 */
public final class ChildArgs {
  /** The option that passes a transport property, {@code KEY=VALUE}; may be repeated. */
  public static final String PROPERTY = "--property";

  private final Map<String, String> options;
  private final Map<String, String> properties;

  private ChildArgs(Map<String, String> options, Map<String, String> properties) {
    this.options = options;
    this.properties = properties;
  }

  /** What a child's main class accepts; build it once, in a constant. */
  public static final class Syntax {
    private final String usage;
    private final Set<String> known = new HashSet<>();
    private final Set<String> required = new HashSet<>();
    private final Set<String> ints = new HashSet<>();
    private final Set<String> longs = new HashSet<>();
    private boolean properties;

    /**
     * @param usage the options as a usage line shows them, e.g. {@code --transport NAME [--listen ADDRESS]}
     */
    public Syntax(String usage) {
      this.usage = usage;
    }

    /** Options that must be given. */
    public Syntax required(String... names) {
      for (String n : names) {
        known.add(n);
        required.add(n);
      }
      return this;
    }

    /** Options that may be given. */
    public Syntax optional(String... names) {
      known.addAll(Set.of(names));
      return this;
    }

    /** Options whose value must be an {@code int} (declare them required or optional too). */
    public Syntax ints(String... names) {
      ints.addAll(Set.of(names));
      return this;
    }

    /** Options whose value must be a {@code long} (declare them required or optional too). */
    public Syntax longs(String... names) {
      longs.addAll(Set.of(names));
      return this;
    }

    /** Accepts repeated {@code --property KEY=VALUE}. */
    public Syntax properties() {
      properties = true;
      return this;
    }

    /** The usage line, without the program name. */
    public String usage() {
      return usage;
    }
  }

  /**
   * Parses a command line.
   *
   * @throws IllegalArgumentException with a message naming the bad argument and ending with the usage
   */
  public static ChildArgs parse(String[] argv, Syntax syntax) {
    Map<String, String> options = new HashMap<>();
    Map<String, String> properties = new LinkedHashMap<>();
    for (int i = 0; i < argv.length; i++) {
      String name = argv[i];
      if (!name.startsWith("--")) {
        throw usage(syntax, "unexpected argument '" + name + "'");
      }
      boolean property = syntax.properties && name.equals(PROPERTY);
      if (!property && !syntax.known.contains(name)) {
        throw usage(syntax, "unknown option " + name);
      }
      if (i + 1 >= argv.length) {
        throw usage(syntax, "option " + name + " needs a value");
      }
      String value = argv[++i];
      if (property) {
        int eq = value.indexOf('=');
        if (eq <= 0) {
          throw usage(syntax, PROPERTY + " needs KEY=VALUE, got '" + value + "'");
        }
        properties.put(value.substring(0, eq), value.substring(eq + 1));
      } else if (options.putIfAbsent(name, value) != null) {
        throw usage(syntax, "option " + name + " given twice");
      }
    }
    for (String name : syntax.required) {
      if (!options.containsKey(name)) {
        throw usage(syntax, "missing option " + name);
      }
    }
    options.forEach((name, value) -> {
      try {
        if (syntax.ints.contains(name)) {
          Integer.parseInt(value);
        } else if (syntax.longs.contains(name)) {
          Long.parseLong(value);
        }
      } catch (NumberFormatException e) {
        throw usage(syntax, "option " + name + " needs a whole number, got '" + value + "'");
      }
    });
    return new ChildArgs(options, properties);
  }

  private static IllegalArgumentException usage(Syntax syntax, String problem) {
    return new IllegalArgumentException(problem + "; usage: " + syntax.usage);
  }

  /** Whether the option was given. */
  public boolean has(String name) {
    return options.containsKey(name);
  }

  /** The option's value, or {@code null} when it was not given. */
  public String get(String name) {
    return options.get(name);
  }

  /** The option's value, or {@code otherwise} when it was not given. */
  public String get(String name, String otherwise) {
    return options.getOrDefault(name, otherwise);
  }

  /** An option declared {@link Syntax#ints}, or {@code otherwise} when it was not given. */
  public int intValue(String name, int otherwise) {
    String v = options.get(name);
    return v == null ? otherwise : Integer.parseInt(v);
  }

  /** An option declared {@link Syntax#longs}; it must have been given. */
  public long longValue(String name) {
    return Long.parseLong(options.get(name));
  }

  /** The {@code --property} pairs in command-line order (a later one replaces an earlier one); a fresh map. */
  public Map<String, String> properties() {
    return new LinkedHashMap<>(properties);
  }
}
