package dev.ferry.cli.conformance;

import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * One path of a traced packet: its fate, the endpoint it was DNAT'd to (FORWARD), whether it leaves
 * masqueraded, whether it is hairpin traffic (the source is the chosen endpoint: always masqueraded,
 * so left out when paths are compared, unless every path is one), and the rules it went through.
 */
record Step(Outcome.Kind kind, String endpoint, boolean masquerade, boolean hairpin, List<String> trace) {

    /** Folds the paths of one packet into one outcome; paths that disagree on the fate are a failure. */
    static Outcome fold(Packet p, List<Step> steps) {
        Outcome.Kind kind = steps.get(0).kind();
        Set<String> eps = new TreeSet<>();
        Boolean masq = null;
        boolean allHairpin = steps.stream().allMatch(Step::hairpin);
        for (Step s : steps) {
            if (s.kind() != kind) {
                throw new AssertionError(p + ": paths disagree: " + steps.get(0).kind() + " via " + steps.get(0).trace()
                        + " and " + s.kind() + " via " + s.trace());
            }
            if (s.kind() == Outcome.Kind.FORWARD) {
                eps.add(s.endpoint());
                if (!s.hairpin() || allHairpin) {
                    if (masq != null && masq != s.masquerade()) {
                        throw new AssertionError(p + ": paths disagree on masquerade: " + s.trace());
                    }
                    masq = s.masquerade();
                }
            }
        }
        return new Outcome(kind, eps, masq != null && masq);
    }
}
