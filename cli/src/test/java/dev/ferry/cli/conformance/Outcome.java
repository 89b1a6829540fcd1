package dev.ferry.cli.conformance;

import java.util.Set;
import java.util.TreeSet;

/**
 * What a connection gets, as kube-proxy's packet-flow tests state it: forwarded to one of a set of
 * endpoints ("ip:port"), with or without masquerade; REJECTed; DROPped; or left untouched by the
 * service rules. A tracer that explores every random branch folds its paths into one Outcome.
 */
record Outcome(Kind kind, Set<String> endpoints, boolean masquerade) {
    enum Kind { FORWARD, REJECT, DROP, UNTOUCHED }

    Outcome {
        endpoints = Set.copyOf(endpoints);
    }

    static Outcome forward(boolean masquerade, String... endpoints) {
        return new Outcome(Kind.FORWARD, Set.of(endpoints), masquerade);
    }

    static final Outcome REJECT = new Outcome(Kind.REJECT, Set.of(), false);
    static final Outcome DROP = new Outcome(Kind.DROP, Set.of(), false);
    static final Outcome UNTOUCHED = new Outcome(Kind.UNTOUCHED, Set.of(), false);

    @Override
    public String toString() {
        return kind == Kind.FORWARD ? "FORWARD to " + new TreeSet<>(endpoints) + (masquerade ? " masqueraded" : " not masqueraded")
                : kind.name();
    }
}
