package dev.ferry.lb;

import java.util.concurrent.ThreadLocalRandom;

/**
 * {@code random}: a backend drawn from {@link ThreadLocalRandom} in proportion to its weight.
 * Lock-free, allocation-free, no shared state between pickers; thread-safe.
 */
public final class RandomChoice implements Scheduler {
    private final Backends backends;
    private final WeightedIndex byWeight;

    public RandomChoice(Backends backends) {
        this.backends = backends;
        this.byWeight = new WeightedIndex(backends);
    }

    @Override
    public int pick(long sourceKey, long destinationKey) {
        if (backends.isEmpty()) {
            return NO_BACKEND;
        }
        return byWeight.index(ThreadLocalRandom.current().nextLong());
    }

    @Override
    public Backends backends() {
        return backends;
    }

    @Override
    public Algorithm algorithm() {
        return Algorithm.RANDOM;
    }
}
