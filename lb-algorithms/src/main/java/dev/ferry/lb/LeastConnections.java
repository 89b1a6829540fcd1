package dev.ferry.lb;

import java.util.concurrent.ThreadLocalRandom;

/**
 * IPVS {@code lc} and {@code wlc}: the backend with the fewest live connections, or the fewest per
 * unit of weight ({@code wlc}: connections/weight, compared by cross-multiplying as IPVS does).
 *
 * <p>The scan starts at a random backend, so ties are spread evenly. IPVS starts at the first
 * backend, which at light load (all counts zero between short connections) sends everything to
 * the first one. The pick reads every count: O(backends), lock-free, allocation-free, and never
 * waits for a writer; it may see a count one connection stale, which only matters for a tie.
 * Thread-safe.
 */
public final class LeastConnections implements Scheduler {
    private final Backends backends;
    private final ConnectionCounts counts;
    private final int[] weights;
    private final int n;
    private final boolean weighted;
    private final Algorithm algorithm;

    /**
     * @param weighted true for {@code wlc}; with equal weights both give the same picks
     * @throws IllegalArgumentException if {@code counts} is not sized for {@code backends}
     */
    public LeastConnections(Backends backends, ConnectionCounts counts, boolean weighted) {
        if (counts.size() != backends.size()) {
            throw new IllegalArgumentException("connection counts for " + counts.size()
                    + " backends, but the set has " + backends.size());
        }
        this.backends = backends;
        this.counts = counts;
        this.weights = backends.weightsCopy();
        this.n = backends.size();
        this.weighted = weighted && !backends.uniformWeights();
        this.algorithm = weighted ? Algorithm.WLC : Algorithm.LC;
    }

    @Override
    public int pick(long sourceKey, long destinationKey) {
        if (n == 0) {
            return NO_BACKEND;
        }
        int start = FlowHash.reduce(ThreadLocalRandom.current().nextInt(), n);
        return weighted ? leastPerWeight(start) : least(start);
    }

    // Two loops rather than a wrapped index: the common case, no wrap test per element.
    // An idle backend cannot be beaten: stop at the first one.
    private int least(int start) {
        int best = start;
        int bestCount = counts.getOpaque(start);
        for (int i = start + 1; i < n && bestCount > 0; i++) {
            int c = counts.getOpaque(i);
            if (c < bestCount) {
                best = i;
                bestCount = c;
            }
        }
        for (int i = 0; i < start && bestCount > 0; i++) {
            int c = counts.getOpaque(i);
            if (c < bestCount) {
                best = i;
                bestCount = c;
            }
        }
        return best;
    }

    private int leastPerWeight(int start) {
        int best = start;
        long bestCount = counts.getOpaque(start);
        long bestWeight = weights[start];
        // An idle backend cannot be beaten: stop at the first one.
        for (int k = 1; k < n && bestCount > 0; k++) {
            int i = start + k;
            if (i >= n) {
                i -= n;
            }
            long c = counts.getOpaque(i);
            // c/w < bestCount/bestWeight, without division.
            if (c * bestWeight < bestCount * weights[i]) {
                best = i;
                bestCount = c;
                bestWeight = weights[i];
            }
        }
        return best;
    }

    public ConnectionCounts counts() {
        return counts;
    }

    @Override
    public Backends backends() {
        return backends;
    }

    @Override
    public Algorithm algorithm() {
        return algorithm;
    }
}
