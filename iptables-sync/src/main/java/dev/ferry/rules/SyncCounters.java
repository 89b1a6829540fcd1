package dev.ferry.rules;

import java.util.concurrent.atomic.AtomicLong;

/**
 * Counters of one sync loop, for /metrics and logs. Written by the loop thread, read by anyone.
 */
public final class SyncCounters {
    public final AtomicLong fullSyncs = new AtomicLong();
    public final AtomicLong partialSyncs = new AtomicLong();
    public final AtomicLong failures = new AtomicLong();
    public final AtomicLong rejectedServicePorts = new AtomicLong();
    public final AtomicLong lastRenderNanos = new AtomicLong();
    public final AtomicLong lastApplyNanos = new AtomicLong();
    /** Consecutive failures since the last success (0 when healthy). */
    public final AtomicLong consecutiveFailures = new AtomicLong();

    @Override
    public String toString() {
        return "full=" + fullSyncs + " partial=" + partialSyncs + " failures=" + failures
                + " consecutiveFailures=" + consecutiveFailures + " rejected=" + rejectedServicePorts;
    }
}
