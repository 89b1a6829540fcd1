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
    /** Periodic checks that found the kernel holding the rules, so nothing was rendered or applied. */
    public final AtomicLong verifiedSyncs = new AtomicLong();
    /** Periodic checks that found (or could not rule out) drift, each followed by a full sync. */
    public final AtomicLong driftRepairs = new AtomicLong();
    /** How long the last periodic check took. */
    public final AtomicLong lastVerifyNanos = new AtomicLong();
    /** Consecutive failures since the last success (0 when healthy). */
    public final AtomicLong consecutiveFailures = new AtomicLong();

    @Override
    public String toString() {
        return "full=" + fullSyncs + " partial=" + partialSyncs + " verified=" + verifiedSyncs + " driftRepairs=" + driftRepairs + " failures=" + failures
                + " consecutiveFailures=" + consecutiveFailures + " rejected=" + rejectedServicePorts;
    }
}
