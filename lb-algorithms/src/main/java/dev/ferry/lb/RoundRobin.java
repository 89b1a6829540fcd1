package dev.ferry.lb;

import java.util.concurrent.atomic.AtomicLong;

/**
 * IPVS {@code rr}: backends in turn, ignoring weights.
 *
 * <p>Lock-free: one shared atomic counter. Over any run of picks from any number of threads, each
 * backend is picked either floor or ceil of picks/n times, because every counter value goes to
 * exactly one picker. The counter is a contended cache line under many threads; that is the price
 * of exact fairness.
 */
public final class RoundRobin implements Scheduler {
    private final Backends backends;
    private final int n;
    private final AtomicLong next = new AtomicLong();

    public RoundRobin(Backends backends) {
        this.backends = backends;
        this.n = backends.size();
    }

    @Override
    public int pick(long sourceKey, long destinationKey) {
        if (n == 0) {
            return NO_BACKEND;
        }
        // A long counter does not wrap in the lifetime of a process, so % never sees a negative value.
        return (int) (next.getAndIncrement() % n);
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
