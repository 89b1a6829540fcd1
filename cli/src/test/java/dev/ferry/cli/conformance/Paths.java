package dev.ferry.cli.conformance;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * Runs a trace once per combination of its random choices (iptables' statistic match, nft's numgen
 * and jhash), so a rule set is judged by every endpoint it can reach rather than by one draw.
 * Bounded: at most {@link #MAX_PATHS} paths.
 */
final class Paths {
    static final int MAX_PATHS = 4096;

    /** The choices of one run: replays a prefix, then takes 0 and records the arity of each new choice. */
    static final class Choices {
        private final List<Integer> prefix;
        final List<Integer> taken = new ArrayList<>();
        final List<Integer> arities = new ArrayList<>();
        /** Choices keyed by an expression: the same expression draws the same value within one packet (jhash). */
        private final Map<String, Integer> keyed = new java.util.HashMap<>();

        Choices(List<Integer> prefix) {
            this.prefix = prefix;
        }

        int next(int arity) {
            int i = taken.size();
            int v = i < prefix.size() ? prefix.get(i) : 0;
            taken.add(v);
            arities.add(arity);
            return v;
        }

        int keyed(String key, int arity) {
            Integer v = keyed.get(key);
            if (v == null) {
                v = next(arity);
                keyed.put(key, v);
            }
            return v;
        }
    }

    private Paths() {}

    static <R> List<R> all(Function<Choices, R> run) {
        List<R> out = new ArrayList<>();
        Deque<List<Integer>> todo = new ArrayDeque<>();
        todo.push(List.of());
        while (!todo.isEmpty()) {
            if (out.size() >= MAX_PATHS) {
                throw new IllegalStateException("more than " + MAX_PATHS + " paths");
            }
            List<Integer> prefix = todo.pop();
            Choices c = new Choices(prefix);
            out.add(run.apply(c));
            for (int i = prefix.size(); i < c.taken.size(); i++) {
                for (int v = 1; v < c.arities.get(i); v++) {
                    List<Integer> p = new ArrayList<>(c.taken.subList(0, i));
                    p.add(v);
                    todo.push(p);
                }
            }
        }
        return out;
    }
}
