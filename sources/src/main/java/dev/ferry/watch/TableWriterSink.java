package dev.ferry.watch;

import dev.ferry.model.ServicePort;
import dev.ferry.model.ServicePortName;
import dev.ferry.table.FrontendConflictException;
import dev.ferry.table.ServicePortView;
import dev.ferry.table.ServiceTable;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Applies {@link TableUpdate}s to a {@link ServiceTable}: removals first, then puts (which skip
 * identical records, so a full update rewrites only what differs), each update as one generation
 * of the table, which its {@link dev.ferry.table.ChangeFeed} publishes with what it wrote and removed. Heartbeats and reclaims the table
 * in {@link #idle()}. Not thread-safe: use it only as the {@link ChangeTracker}'s sink, which calls it
 * from one thread; the table must have no other writer.
 */
public final class TableWriterSink implements TableSink {
    private static final Logger log = LoggerFactory.getLogger(TableWriterSink.class);

    private final ServiceTable table;
    private final ServicePortView scan = new ServicePortView();

    public TableWriterSink(ServiceTable table) {
        this.table = table;
    }

    /** One table generation per update, so the table's change feed publishes the update as one change. */
    @Override
    public ServiceTable.SyncResult apply(TableUpdate update) {
        return table.batch(() -> write(update));
    }

    private ServiceTable.SyncResult write(TableUpdate update) {
        List<ServicePortName> gone = new ArrayList<>(update.removed());
        if (update.full()) {
            Set<ServicePortName> keep = new HashSet<>((update.ports().size() + update.retained().size()) * 2);
            for (ServicePort sp : update.ports()) {
                keep.add(sp.name());
            }
            keep.addAll(update.retained());
            table.retainDisplaced(keep);
            Set<ServicePortName> listed = new HashSet<>(gone);
            table.reader().forEach(scan, v -> {
                ServicePortName n = v.servicePortName();
                if (!keep.contains(n) && !listed.contains(n)) {
                    gone.add(n);
                }
            });
        }
        int removed = 0;
        for (ServicePortName n : gone) {
            if (table.remove(n)) {
                removed++;
            }
        }
        int added = 0;
        int updated = 0;
        int unchanged = 0;
        List<String> errors = new ArrayList<>();
        Map<ServicePortName, String> conflicts = new LinkedHashMap<>();
        for (ServicePort sp : update.ports()) {
            try {
                switch (table.put(sp)) {
                    case ADDED -> added++;
                    case UPDATED -> updated++;
                    default -> unchanged++;
                }
            } catch (FrontendConflictException e) {
                conflicts.put(sp.name(), sp.name() + ": " + e.getMessage());
            } catch (IllegalArgumentException e) {
                errors.add(sp.name() + ": " + e.getMessage());
            }
        }
        // Ports that lost a frontend claim come back once the winner is gone; evicted ones are reported.
        ServiceTable.SyncResult retried = table.retryDisplaced();
        conflicts.forEach((n, e) -> {
            if (table.isDisplaced(n)) { // else a retry wrote it after all
                errors.add(e);
            }
        });
        added += retried.added();
        errors.addAll(retried.errors());
        return new ServiceTable.SyncResult(added, updated, removed, unchanged, List.copyOf(errors));
    }

    @Override
    public void idle() {
        try {
            table.heartbeat();
            table.reclaim();
        } catch (RuntimeException e) {
            log.warn("table heartbeat failed: {}", e.toString());
        }
    }
}
