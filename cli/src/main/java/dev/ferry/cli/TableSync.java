package dev.ferry.cli;

import dev.ferry.cli.http.ProxierHealth;
import dev.ferry.cli.http.ProxyMetrics;
import dev.ferry.model.ServicePort;
import dev.ferry.table.ServiceTable;
import dev.ferry.watch.TableSink;
import dev.ferry.watch.TableUpdate;
import dev.ferry.watch.TableWriterSink;
import java.util.concurrent.CompletionException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The table's one writer thread. Sources hand it full snapshots (or, through {@link #write}, any
 * table operation) from any thread; it applies them in order, heartbeats once a second (so readers
 * can tell a live daemon from a stale file), and hands every applied snapshot to listeners on the
 * same thread. Each write is reported to the proxier health (queued when handed over) and to the
 * metrics (table write duration, table sizes). When a data plane follows the table
 * ({@link #followedBy}), it reports the sync done (kube-proxy's sync duration, last-sync timestamp,
 * health updated) once the kernel or the proxy serves the write, and the network programming
 * latency is recorded then; without one, the table write is the sync.
 */
final class TableSync implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(TableSync.class);

    private final ServiceTable table;
    private final ScheduledExecutorService writer;
    private final List<Consumer<List<ServicePort>>> listeners;
    private final ProxyMetrics metrics;
    private final ProxierHealth health;
    private final List<Runnable> afterWrite = new java.util.concurrent.CopyOnWriteArrayList<>();
    private final List<Runnable> everySecond = new java.util.concurrent.CopyOnWriteArrayList<>();
    private volatile dev.ferry.cli.plane.DataPlane plane;
    private volatile long syncs;
    private long heartbeats;

    TableSync(ServiceTable table, List<Consumer<List<ServicePort>>> listeners) {
        this(table, listeners, new ProxyMetrics(), new ProxierHealth(Duration.ofMinutes(1), System::currentTimeMillis));
    }

    TableSync(ServiceTable table, List<Consumer<List<ServicePort>>> listeners, ProxyMetrics metrics, ProxierHealth health) {
        this.table = table;
        this.listeners = List.copyOf(listeners);
        this.metrics = metrics;
        this.health = health;
        this.writer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "ferry-table-writer");
            t.setDaemon(true);
            return t;
        });
        writer.scheduleAtFixedRate(this::heartbeat, 1, 1, TimeUnit.SECONDS);
    }

    /** Queues a full snapshot; the returned future completes once it is in the table. */
    CompletableFuture<ServiceTable.SyncResult> apply(List<ServicePort> ports) {
        CompletableFuture<ServiceTable.SyncResult> done = write(true, t -> t.replaceAll(ports));
        return done.thenApplyAsync(r -> {
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

    /**
     * Runs {@code hook} on the writer thread after every write and every 5 s (e.g. the service
     * health-check servers, which read the table and retry ports they could not bind). Add before
     * the first write.
     */
    void afterEveryWrite(Runnable hook) {
        afterWrite.add(hook);
    }

    /** Runs {@code tick} on the writer thread once a second (e.g. checking what the kernel holds against the table). */
    void everySecond(Runnable tick) {
        everySecond.add(tick);
    }

    /** Runs {@code task} on the writer thread soon (dropped once the writer stopped); failures are logged. */
    void runOnWriter(Runnable task) {
        try {
            writer.execute(() -> {
                try {
                    task.run();
                } catch (RuntimeException e) {
                    LOG.warn("writer task failed: {}", e.toString());
                }
            });
        } catch (java.util.concurrent.RejectedExecutionException e) {
            // stopping: nothing left to keep in line
        }
    }

    /** The data plane that serves the table, which reports syncs done from now on (see the class comment). */
    void followedBy(dev.ferry.cli.plane.DataPlane plane) {
        this.plane = plane;
    }

    private boolean planeReportsSyncs() {
        dev.ferry.cli.plane.DataPlane p = plane;
        return p != null && p.reportsSyncs();
    }

    private void runHooks() {
        for (Runnable r : afterWrite) {
            try {
                r.run();
            } catch (RuntimeException e) {
                LOG.warn("after-write hook failed: {}", e.toString());
            }
        }
    }

    /**
     * Runs one write on the writer thread and reports it; {@code full} says whether it rewrote the
     * whole table (a full sync) or only changes. A write that throws is not counted as a sync, so
     * health turns 503 if writes keep failing.
     */
    CompletableFuture<ServiceTable.SyncResult> write(boolean full, Function<ServiceTable, ServiceTable.SyncResult> op) {
        health.queuedUpdate();
        metrics.syncQueued(System.currentTimeMillis());
        return CompletableFuture.supplyAsync(() -> {
            long start = System.nanoTime();
            ServiceTable.SyncResult r = op.apply(table);
            long nanos = System.nanoTime() - start;
            syncs++;
            for (String e : r.errors()) {
                LOG.warn("service port not written: {}", e);
            }
            metrics.tableWritten(nanos);
            if (!planeReportsSyncs()) {
                metrics.syncDone(nanos, full, System.currentTimeMillis());
                health.updated();
            }
            metrics.tableWriteErrors(r.errors().size());
            metrics.tableStats(table.reader().servicePortCount(), table.reader().endpointCount(), table.bytesInUse(),
                    table.generation());
            runHooks();
            if (full || r.changed()) {
                LOG.info("table sync ({}): {} added, {} updated, {} removed, {} unchanged in {} µs (generation {}, {} service ports)",
                        full ? "full" : "partial", r.added(), r.updated(), r.removed(), r.unchanged(), nanos / 1_000,
                        table.generation(), table.reader().servicePortCount());
            }
            return r;
        }, writer);
    }

    /**
     * The change tracker's sink: runs each update on this writer thread (the table keeps one writer,
     * with the heartbeat) and returns when it is written; records the network programming latency of
     * the API changes it carries. A write that throws is rethrown, so the tracker retries it.
     */
    TableSink sink() {
        TableWriterSink plain = new TableWriterSink(table);
        return update -> {
            ServiceTable.SyncResult r;
            try {
                r = write(update.full(), t -> plain.apply(update)).join();
            } catch (CompletionException e) {
                throw e.getCause() instanceof RuntimeException re ? re : e;
            }
            long[] changes = java.util.Arrays.stream(update.changeTimesMillis()).filter(c -> c > 0).toArray();
            if (changes.length > 0) {
                Runnable programmed = () -> {
                    long now = System.currentTimeMillis();
                    for (long changed : changes) {
                        metrics.networkProgrammed(TimeUnit.MILLISECONDS.toNanos(now - changed));
                    }
                };
                dev.ferry.cli.plane.DataPlane p = plane;
                if (p != null) {
                    p.whenApplied(programmed);
                } else {
                    programmed.run();
                }
            }
            return r;
        };
    }

    long syncs() {
        return syncs;
    }

    private void heartbeat() {
        try {
            table.heartbeat();
            table.reclaim();
            for (Runnable tick : everySecond) {
                tick.run();
            }
            if (++heartbeats % 5 == 0) {
                runHooks();
            }
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
