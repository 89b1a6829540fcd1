package dev.ferry.lb;

/**
 * IPVS {@code rr}: backends in turn, ignoring weights.
 *
 * <p>Lock-free: one shared atomic counter ({@link TurnCounter}). Over any run of picks from any
 * number of threads, each backend is picked either floor or ceil of picks/n times, because every
 * counter value goes to exactly one picker. The counter is a contended cache line under many threads; that is the price
 * of exact fairness.
 */
public final class RoundRobin implements Scheduler {
    private final Backends backends;
    private final int n;
    private final TurnCounter turns;

    public RoundRobin(Backends backends) {
        this.backends = backends;
        this.n = backends.size();
        this.turns = new TurnCounter(Math.max(1, n));
    }

    @Override
    public int pick(long sourceKey, long destinationKey) {
        if (n == 0) {
            return NO_BACKEND;
        }
        return turns.next();
    }

    @Override
    public Backends backends() {
        return backends;
    }

    @Override
    public Algorithm algorithm() {
        return Algorithm.RR;
    }
}
