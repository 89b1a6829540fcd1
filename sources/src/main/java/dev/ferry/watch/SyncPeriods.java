package dev.ferry.watch;

import java.time.Duration;
import java.util.Objects;

/**
 * How often the {@link ChangeTracker} writes the table, with kube-proxy's meaning: no more often than
 * {@code minSyncPeriod} while changes keep coming (at once when the last sync is older than that);
 * every {@code syncPeriod} the services the table refused are retried (a full conversion of every
 * service runs once per {@link ChangeTracker#FULL_RESYNC}, as kube-proxy's periodic syncs are
 * partial). Immutable.
 */
public record SyncPeriods(Duration minSyncPeriod, Duration syncPeriod) {
    /** kube-proxy's defaults: minSyncPeriod 1 s, syncPeriod 30 s. */
    public static final SyncPeriods DEFAULTS = new SyncPeriods(Duration.ofSeconds(1), Duration.ofSeconds(30));

    public SyncPeriods {
        Objects.requireNonNull(minSyncPeriod, "minSyncPeriod");
        Objects.requireNonNull(syncPeriod, "syncPeriod");
        if (minSyncPeriod.isNegative()) {
            throw new IllegalArgumentException("minSyncPeriod must not be negative, got " + minSyncPeriod);
        }
        if (syncPeriod.isNegative() || syncPeriod.isZero()) {
            throw new IllegalArgumentException("syncPeriod must be positive, got " + syncPeriod);
        }
        if (minSyncPeriod.compareTo(syncPeriod) > 0) {
            throw new IllegalArgumentException("minSyncPeriod (" + minSyncPeriod + ") must not exceed syncPeriod ("
                    + syncPeriod + ")");
        }
    }
}
