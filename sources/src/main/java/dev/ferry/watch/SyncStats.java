package dev.ferry.watch;

import dev.ferry.model.RejectionReason;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLongArray;
import org.HdrHistogram.Histogram;

/**
 * What the {@link ChangeTracker} has done, for /healthz and /metrics: sync counts and times, sync
 * durations and network programming latency (HdrHistogram), rejected objects by reason, and the age
 * of the oldest change not yet written. Written by the sync thread (and the event threads for the
 * pending-change time); every getter is safe from any thread. Histogram getters return copies.
 *
 * <p>Health, as kube-proxy defines it: unhealthy when a change has waited longer than a threshold
 * ({@code now - oldestPendingChangeMillis() > threshold}, with {@code oldestPendingChangeMillis() > 0}),
 * or before the first sync.
 */
public final class SyncStats {
    private static final long HOUR_NANOS = 3_600_000_000_000L;
    private static final long DAY_MILLIS = 86_400_000L;

    private volatile long syncs;
    private volatile long fullSyncs;
    private volatile long failedSyncs;
    private volatile long lastSyncMillis;
    private volatile long lastFullSyncMillis;
    private volatile long lastSyncDurationNanos;
    private volatile long oldestPendingChangeMillis;
    private volatile long servicePorts;
    private volatile long ignoredServices;
    private volatile long rejectedObjectsNow;
    private volatile long portsAdded;
    private volatile long portsUpdated;
    private volatile long portsRemoved;
    private final AtomicLongArray rejections = new AtomicLongArray(RejectionReason.values().length);
    private final Histogram syncDurations = new Histogram(HOUR_NANOS, 3);
    private final Histogram programmingLatency = new Histogram(DAY_MILLIS, 3);

    SyncStats() {}

    /** Successful syncs (partial and full) since start. */
    public long syncs() {
        return syncs;
    }

    public long fullSyncs() {
        return fullSyncs;
    }

    /** Syncs whose sink threw (they are retried). */
    public long failedSyncs() {
        return failedSyncs;
    }

    /** Epoch millis of the last successful sync, 0 before the first one. */
    public long lastSyncMillis() {
        return lastSyncMillis;
    }

    public long lastFullSyncMillis() {
        return lastFullSyncMillis;
    }

    public long lastSyncDurationNanos() {
        return lastSyncDurationNanos;
    }

    /** Epoch millis when the oldest change not yet written arrived; 0 when nothing is pending. */
    public long oldestPendingChangeMillis() {
        return oldestPendingChangeMillis;
    }

    /** Service ports the tracker has accepted (what the table should hold, excluding retained ones). */
    public long servicePorts() {
        return servicePorts;
    }

    /** Services skipped by the label filters at the last full sync. */
    public long ignoredServices() {
        return ignoredServices;
    }

    /** Objects (or parts) rejected right now, counting each distinct rejection once. */
    public long rejectedObjectsNow() {
        return rejectedObjectsNow;
    }

    /** Rejections since start by reason; a rejection is counted when it first appears, not at each resync. */
    public Map<RejectionReason, Long> rejectionsByReason() {
        Map<RejectionReason, Long> out = new EnumMap<>(RejectionReason.class);
        for (RejectionReason r : RejectionReason.values()) {
            out.put(r, rejections.get(r.ordinal()));
        }
        return out;
    }

    /**
     * Service ports the sink added to the table since start. With {@link #portsUpdated()} and
     * {@link #portsRemoved()} this shows flaps: a relist that converges without change leaves all three as they were.
     */
    public long portsAdded() {
        return portsAdded;
    }

    /** Service ports the sink rewrote because their record changed, since start. */
    public long portsUpdated() {
        return portsUpdated;
    }

    /** Service ports the sink removed from the table since start. */
    public long portsRemoved() {
        return portsRemoved;
    }

    public long rejections(RejectionReason reason) {
        return rejections.get(reason.ordinal());
    }

    /** A copy of the sync duration histogram, in nanoseconds. */
    public synchronized Histogram syncDurationsNanos() {
        return syncDurations.copy();
    }

    /**
     * A copy of the network programming latency histogram, in milliseconds: from the API change's
     * {@code endpoints.kubernetes.io/last-change-trigger-time} to the moment the sink returned.
     */
    public synchronized Histogram networkProgrammingMillis() {
        return programmingLatency.copy();
    }

    // ---- written by the tracker -------------------------------------------------------------

    synchronized void synced(boolean full, long endMillis, long durationNanos, long ports) {
        syncDurations.recordValue(Math.min(Math.max(durationNanos, 0), HOUR_NANOS));
        lastSyncDurationNanos = durationNanos;
        lastSyncMillis = endMillis;
        servicePorts = ports;
        if (full) {
            lastFullSyncMillis = endMillis;
            fullSyncs++;
        }
        syncs++;
    }

    synchronized void programmed(long latencyMillis) {
        programmingLatency.recordValue(Math.min(Math.max(latencyMillis, 0), DAY_MILLIS));
    }

    synchronized void written(int added, int updated, int removed) {
        portsAdded += added;
        portsUpdated += updated;
        portsRemoved += removed;
    }

    synchronized void failed() {
        failedSyncs++;
    }

    void pendingSince(long millis) {
        oldestPendingChangeMillis = millis;
    }

    void rejected(RejectionReason reason) {
        rejections.incrementAndGet(reason.ordinal());
    }

    void rejectedNow(long count) {
        rejectedObjectsNow = count;
    }

    void ignored(long count) {
        ignoredServices = count;
    }
}
