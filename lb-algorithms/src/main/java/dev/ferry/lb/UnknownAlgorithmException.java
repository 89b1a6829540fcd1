package dev.ferry.lb;

import java.util.List;

/** A name that is no {@link Algorithm}; the message names it and lists the valid ones. */
public final class UnknownAlgorithmException extends IllegalArgumentException {
    private final String name;
    private final List<String> validNames;

    public UnknownAlgorithmException(String name, List<String> validNames) {
        super("unknown load-balancing algorithm " + (name == null ? "null" : "'" + name + "'")
                + "; valid names: " + String.join(", ", validNames));
        this.name = name;
        this.validNames = List.copyOf(validNames);
    }

    /** The name that was asked for, possibly null. */
    public String name() {
        return name;
    }

    public List<String> validNames() {
        return validNames;
    }
}
