package dev.ferry.lb;

import java.util.concurrent.ThreadLocalRandom;

/**
 * {@code p2c}: draws two backends at random and takes the one with fewer live connections per unit
 * of weight (Mitzenmacher's power of two choices). Nearly as balanced as least-connections at
 * constant cost, and it does not herd: picks racing on stale counts do not all go to the same backend.
 *
 * <p>With equal weights the two are distinct backends drawn uniformly; with weights each is drawn in
 * proportion to its weight (so an idle service still gets a weighted spread) and the two may
 * coincide. Ties go to the first draw. Lock-free, allocation-free, thread-safe.
 */
public final class PowerOfTwoChoices implements Scheduler {
    private final Backends backends;
    private final ConnectionCounts counts;
    private final int[] weights;
    private final WeightedIndex byWeight;
    private final int n;

    /** @throws IllegalArgumentException if {@code counts} is not sized for {@code backends} */
    public PowerOfTwoChoices(Backends backends, ConnectionCounts counts) {
        if (counts.size() != backends.size()) {
            throw new IllegalArgumentException("connection counts for " + counts.size()
                    + " backends, but the set has " + backends.size());
        }
        this.backends = backends;
        this.counts = counts;
        this.weights = backends.weightsCopy();
        this.n = backends.size();
        this.byWeight = backends.uniformWeights() ? null : new WeightedIndex(backends);
    }

    @Override
    public int pick(long sourceKey, long destinationKey) {
        if (n <= 1) {
            return n == 0 ? NO_BACKEND : 0;
        }
        long r = ThreadLocalRandom.current().nextLong();
        int a;
        int b;
        if (byWeight == null) {
            a = FlowHash.reduce(r, n);
            b = FlowHash.reduce(r >>> 32, n - 1);
            if (b >= a) {
                b++;
            }
            return counts.getOpaque(b) < counts.getOpaque(a) ? b : a;
        }
        a = byWeight.index(r);
        b = byWeight.index(ThreadLocalRandom.current().nextLong());
        return (long) counts.getOpaque(b) * weights[a] < (long) counts.getOpaque(a) * weights[b] ? b : a;
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
        return Algorithm.P2C;
    }
}
