package dev.ferry.lb;

import java.util.Arrays;
import java.util.TreeMap;

/**
 * IPVS {@code wrr}, with nginx's smooth weighted round robin order: weights 5,1,1 give
 * a,a,b,a,c,a,a rather than a,a,a,a,a,b,c.
 *
 * <p>nginx runs its algorithm under the upstream lock on every pick. The order is periodic (period:
 * the sum of the weights over their gcd), so this class plays the same algorithm once at build
 * time into an array and the pick path only advances a shared atomic counter through it: lock-free,
 * constant time, the same sequence nginx would give a single picker. Thread-safe.
 *
 * <p>Differences from nginx, on purpose: no {@code effective_weight} back-off on failures (nothing
 * reports failures here), and a period longer than {@value #MAX_PERIOD} picks is shortened by
 * scaling the weights down (each stays at least 1), which bounds the array at 256 KB.
 */
public final class SmoothWeightedRoundRobin implements Scheduler {
    static final int MAX_PERIOD = 1 << 16;

    private final Backends backends;
    private final int[] order;
    private final TurnCounter turns;

    public SmoothWeightedRoundRobin(Backends backends) {
        this.backends = backends;
        this.order = smoothOrder(periodWeights(backends));
        this.turns = new TurnCounter(Math.max(1, order.length));
    }

    @Override
    public int pick(long sourceKey, long destinationKey) {
        if (order.length == 0) {
            return NO_BACKEND;
        }
        return order[turns.next()];
    }

    @Override
    public Backends backends() {
        return backends;
    }

    @Override
    public Algorithm algorithm() {
        return Algorithm.WRR;
    }

    /** The weights divided by their gcd, scaled down if their sum exceeds {@link #MAX_PERIOD}. */
    static int[] periodWeights(Backends backends) {
        int[] w = backends.weightsCopy();
        divideByGcd(w);
        long total = Arrays.stream(w).asLongStream().sum();
        if (total > MAX_PERIOD) {
            for (int i = 0; i < w.length; i++) {
                w[i] = (int) Math.max(1, (long) w[i] * MAX_PERIOD / total);
            }
            divideByGcd(w);
        }
        return w;
    }

    private static void divideByGcd(int[] w) {
        int g = 0;
        for (int x : w) {
            g = gcd(g, x);
        }
        if (g > 1) {
            for (int i = 0; i < w.length; i++) {
                w[i] /= g;
            }
        }
    }

    private static int gcd(int a, int b) {
        while (b != 0) {
            int t = a % b;
            a = b;
            b = t;
        }
        return a;
    }

    /**
     * One period of nginx's order. nginx adds each weight to each backend's current value, picks the
     * largest (the lowest index on ties) and subtracts the total from it. Backends of equal weight
     * always take their turns in index order, so the pick at each step is among one candidate per
     * distinct weight: the cost is (distinct weights) x (period), not backends x period.
     */
    static int[] smoothOrder(int[] weights) {
        TreeMap<Integer, int[]> byWeight = new TreeMap<>();
        for (int i = 0; i < weights.length; i++) {
            int[] members = byWeight.get(weights[i]);
            members = members == null ? new int[] {i} : append(members, i);
            byWeight.put(weights[i], members);
        }
        int groups = byWeight.size();
        long[] groupWeight = new long[groups];
        int[][] members = new int[groups][];
        int g = 0;
        for (var e : byWeight.entrySet()) {
            groupWeight[g] = e.getKey();
            members[g++] = e.getValue();
        }
        long total = Arrays.stream(weights).asLongStream().sum();
        int[] order = new int[(int) total];
        long[] picked = new long[groups];
        for (int t = 1; t <= total; t++) {
            int best = -1;
            long bestCurrent = 0;
            int bestIndex = 0;
            for (g = 0; g < groups; g++) {
                int size = members[g].length;
                int candidate = members[g][(int) (picked[g] % size)];
                // nginx's current_weight of the candidate after this step's additions.
                long current = t * groupWeight[g] - total * (picked[g] / size);
                if (best < 0 || current > bestCurrent || (current == bestCurrent && candidate < bestIndex)) {
                    best = g;
                    bestCurrent = current;
                    bestIndex = candidate;
                }
            }
            picked[best]++;
            order[t - 1] = bestIndex;
        }
        return order;
    }

    private static int[] append(int[] a, int x) {
        int[] b = Arrays.copyOf(a, a.length + 1);
        b[a.length] = x;
        return b;
    }
}
