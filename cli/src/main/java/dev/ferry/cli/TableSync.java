package dev.ferry.cli;

import dev.ferry.model.ServicePort;
import dev.ferry.table.ServiceTable;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The table's one writer thread. Sources hand it full snapshots from any thread; it applies them in
 * order, heartbeats once a second (so readers can tell a live daemon from a stale file), and hands
 * every applied snapshot to listeners on the same thread.
 */
final class TableSync implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(TableSync.class);

    private final ServiceTable table;
    private final ScheduledExecutorService writer;
    private final List<Consumer<List<ServicePort>>> listeners;
    private volatile long syncs;

    TableSync(ServiceTable table, List<Consumer<List<ServicePort>>> listeners) {
        this.table = table;
        this.listeners = List.copyOf(listeners);
        this.writer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "ferry-table-writer");
            t.setDaemon(true);
            return t;
        });
        writer.scheduleAtFixedRate(this::heartbeat, 1, 1, TimeUnit.SECONDS);
    }

    /** Queues a full snapshot; the returned future completes once it is in the table. */
    CompletableFuture<ServiceTable.SyncResult> apply(List<ServicePort> ports) {
        return CompletableFuture.supplyAsync(() -> {
            long start = System.nanoTime();
            ServiceTable.SyncResult r = table.replaceAll(ports);
            syncs++;
            long micros = (System.nanoTime() - start) / 1_000;
            for (String e : r.errors()) {
                LOG.warn("service port not written: {}", e);
            }
            LOG.info("table sync: {} added, {} updated, {} removed, {} unchanged in {} µs (generation {}, {} service ports)",
                    r.added(), r.updated(), r.removed(), r.unchanged(), micros, table.generation(),
                    table.reader().servicePortCount());
            for (Consumer<List<ServicePort>> l : listeners) {
                try {
                    l.accept(ports);
                } catch (RuntimeException e) {
                    LOG.warn("table listener failed: {}", e.toString());
                }
            }
            return r;
        }, writer);
    }

    long syncs() {
        return syncs;
    }

    private void heartbeat() {
        try {
            table.heartbeat();
            table.reclaim();
        } catch (RuntimeException e) {
            LOG.warn("heartbeat failed: {}", e.toString());
        }
    }

    @Override
    public void close() throws Exception {
        writer.shutdown();
        if (!writer.awaitTermination(5, TimeUnit.SECONDS)) {
            writer.shutdownNow();
        }
        table.close();
    }
}
