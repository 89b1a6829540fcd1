package dev.ferry.model;

/** The L4 protocols a Kubernetes ServicePort may name. The ordinal is stored in the service table. */
public enum Protocol {
    TCP, UDP, SCTP;

    private static final Protocol[] VALUES = values();

    /** Decodes a stored ordinal; returns null for a value no writer produces. */
    public static Protocol ofOrdinal(int ordinal) {
        return ordinal >= 0 && ordinal < VALUES.length ? VALUES[ordinal] : null;
    }

    /** Parses the API spelling ("TCP", "UDP", "SCTP"); null when unknown. An absent protocol means TCP in the API. */
    public static Protocol parse(String s) {
        if (s == null || s.isEmpty()) {
            return TCP;
        }
        for (Protocol p : VALUES) {
            if (p.name().equals(s)) {
                return p;
            }
        }
        return null;
    }
}
