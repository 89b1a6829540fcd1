package dev.ferry.lb;

import java.util.concurrent.ThreadLocalRandom;

/**
 * IPVS {@code lc} and {@code wlc}: the backend with the fewest live connections, or the fewest per
 * unit of weight ({@code wlc}: connections/weight, compared by cross-multiplying as IPVS does).
 *
 * <p>The pick is O(1): the counts keep, per weighting, an index of the backends sorted by load
 * ({@link LeastLoadedIndex}), which {@link ConnectionCounts#opened} and {@link ConnectionCounts#closed}
 * update in O(log backends) under the index's lock; the pick reads the size of the least-loaded group
 * (one volatile load) and returns a random member of it, so ties are spread evenly. IPVS takes the
 * first of the tied backends, which at light load (all counts zero between short connections) sends
 * everything to the first one. The pick is lock-free and allocation-free and never waits for a
 * writer; under concurrent updates it can be off by the opens and closes still in flight (a backend
 * that has just left the least-loaded group, or a count another thread has changed but not yet put
 * into the index). Thread-safe.
 */
public final class LeastConnections implements Scheduler {
    private final Backends backends;
    private final ConnectionCounts counts;
    private final LeastLoadedIndex index;
    private final int n;
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
        this.n = backends.size();
        this.index = counts.leastLoadedIndex(backends.weightsCopy(), !weighted || backends.uniformWeights());
        this.algorithm = weighted ? Algorithm.WLC : Algorithm.LC;
    }

    @Override
    public int pick(long sourceKey, long destinationKey) {
        if (n == 0) {
            return NO_BACKEND;
        }
        return index.pick(ThreadLocalRandom.current().nextInt());
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
