package dev.ferry.lb;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * An immutable set of backends, identified on the pick path by their index {@code 0..size()-1}.
 *
 * <p>The name is the backend's stable identity (for example {@code "10.0.1.7:8080"}): Maglev hashes
 * it to place the backend in its table, and {@link ConnectionCounts#carriedOver} matches backends by
 * it across rebuilds, so use the same name for the same endpoint every time the set is rebuilt.
 * Built on the cold path (per API event); safe to share between threads once built.
 */
public final class Backends {
    /** The largest weight accepted, as in IPVS ({@code ipvsadm -w} takes 0..65535; 0 is not accepted here). */
    public static final int MAX_WEIGHT = 65_535;

    public static final Backends EMPTY = new Backends(new String[0], new int[0]);

    private final String[] names;
    private final int[] weights;
    private final boolean uniform;
    private final long totalWeight;

    private Backends(String[] names, int[] weights) {
        this.names = names;
        this.weights = weights;
        boolean same = true;
        long total = 0;
        for (int w : weights) {
            total += w;
            same &= w == weights[0];
        }
        this.uniform = same;
        this.totalWeight = total;
    }

    /** Backends of weight 1, in the given order. */
    public static Backends of(String... names) {
        int[] weights = new int[names.length];
        Arrays.fill(weights, 1);
        return weighted(names, weights);
    }

    /**
     * Backends with weights. A drained backend is left out rather than given weight 0: every
     * backend in a set may be picked.
     *
     * @throws IllegalArgumentException on a null, blank or duplicate name, a weight outside
     *     1..{@value #MAX_WEIGHT}, or arrays of different lengths
     */
    public static Backends weighted(String[] names, int[] weights) {
        if (names.length != weights.length) {
            throw new IllegalArgumentException(
                    "backends: " + names.length + " names but " + weights.length + " weights");
        }
        Map<String, Integer> seen = new HashMap<>();
        for (int i = 0; i < names.length; i++) {
            String name = names[i];
            if (name == null || name.isBlank()) {
                throw new IllegalArgumentException("backend " + i + ": the name is empty");
            }
            Integer earlier = seen.putIfAbsent(name, i);
            if (earlier != null) {
                throw new IllegalArgumentException(
                        "backend " + i + ": duplicate name '" + name + "' (also backend " + earlier + ")");
            }
            if (weights[i] < 1 || weights[i] > MAX_WEIGHT) {
                throw new IllegalArgumentException("backend " + i + " ('" + name + "'): weight " + weights[i]
                        + " is outside 1.." + MAX_WEIGHT);
            }
        }
        return new Backends(names.clone(), weights.clone());
    }

    public static Builder builder() {
        return new Builder();
    }

    public int size() {
        return names.length;
    }

    public boolean isEmpty() {
        return names.length == 0;
    }

    public String name(int index) {
        return names[index];
    }

    public int weight(int index) {
        return weights[index];
    }

    /** The index of the backend with this name, or {@link Scheduler#NO_BACKEND}. Linear: cold path only. */
    public int indexOf(String name) {
        for (int i = 0; i < names.length; i++) {
            if (names[i].equals(name)) {
                return i;
            }
        }
        return Scheduler.NO_BACKEND;
    }

    /** True when every backend has the same weight (the algorithms then skip weight arithmetic). */
    public boolean uniformWeights() {
        return uniform;
    }

    public long totalWeight() {
        return totalWeight;
    }

    int[] weightsCopy() {
        return weights.clone();
    }

    @Override
    public String toString() {
        StringBuilder s = new StringBuilder("Backends[");
        for (int i = 0; i < names.length; i++) {
            s.append(i == 0 ? "" : ", ").append(names[i]);
            if (!uniform) {
                s.append(" w=").append(weights[i]);
            }
        }
        return s.append(']').toString();
    }

    /** Collects backends one at a time; not thread-safe, for one builder thread. */
    public static final class Builder {
        private final List<String> names = new ArrayList<>();
        private final List<Integer> weights = new ArrayList<>();

        private Builder() {}

        public Builder add(String name) {
            return add(name, 1);
        }

        public Builder add(String name, int weight) {
            names.add(name);
            weights.add(weight);
            return this;
        }

        /** @throws IllegalArgumentException as {@link Backends#weighted} does */
        public Backends build() {
            return weighted(names.toArray(new String[0]), weights.stream().mapToInt(Integer::intValue).toArray());
        }
    }
}
