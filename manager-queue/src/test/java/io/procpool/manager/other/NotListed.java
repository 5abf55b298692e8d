package io.procpool.manager.other;

import java.io.Serializable;

/** A class in a package that {@code StrictSerialFilterTest}'s pattern does not list. */
public record NotListed(int value) implements Serializable {}
