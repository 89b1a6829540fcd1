package dev.ferry.watch;

import dev.ferry.table.ServiceTable;

/**
 * Where the {@link ChangeTracker} delivers its updates: the table's single writer. Every method is
 * called from the tracker's sync thread only (never concurrently), so an implementation over a
 * {@link ServiceTable} needs no locking and keeps the table's one-writer rule; it must not block for
 * long, since the next sync waits for it. {@link TableWriterSink} is the plain implementation; a
 * daemon that also drives rule sync or DNS wraps it and calls its consumers after {@code apply}.
 */
public interface TableSink {

    /**
     * Applies one update and says what it did. A service port that cannot be written goes into the
     * result's errors and must not stop the others; throwing means "nothing was applied", and the
     * tracker retries the same changes (as a full sync) after {@code minSyncPeriod}, at least 1 s.
     */
    ServiceTable.SyncResult apply(TableUpdate update);

    /**
     * Called about once a second from the sync thread, also when nothing changed: the place to
     * heartbeat and reclaim the table without a second writer thread. Must not throw.
     */
    default void idle() {}
}
