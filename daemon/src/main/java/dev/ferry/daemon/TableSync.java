package dev.ferry.daemon;

import dev.ferry.daemon.http.ProxierHealth;
import dev.ferry.daemon.http.ProxyMetrics;
import dev.ferry.model.ServicePort;
import dev.ferry.runner.BoundedFrequencyRunner;
import dev.ferry.runner.RunnerClock;
import dev.ferry.runner.ThreadClock;
import dev.ferry.table.ServiceTable;
import dev.ferry.watch.TableSink;
import dev.ferry.watch.TableWriterSink;
import java.io.IOException;
import java.util.concurrent.CompletionException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The table's one writer thread. Sources hand it full snapshots (or, through {@link #write}, any
 * table operation) from any thread; it applies them in order, heartbeats once a second (so readers
 * can tell a live daemon from a stale file); what each write changed reaches the data planes through
 * the table's own change feed. Each write is reported to the proxier health (queued when handed over) and to the
 * metrics (table write duration, table sizes). When a data plane follows the table
 * ({@link #followedBy}), it reports the sync done (kube-proxy's sync duration, last-sync timestamp,
 * health updated) once the kernel or the proxy serves the write, and the network programming
 * latency is recorded then; without one, the table write is the sync.
 *
 * <p>The writer thread is a {@link RunnerClock}'s ("ferry-table-writer" unless one is given), and the
 * heartbeat a {@link BoundedFrequencyRunner} on it, so writes and heartbeats never overlap and
 * writes run in the order handed over; tests give a {@link dev.ferry.runner.ManualClock}, on which
 * writes run on the caller's thread and heartbeats when the test moves time.
 */
public final class TableSync implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(TableSync.class);

    private final ServiceTable table;
    private final RunnerClock writer;
    /** The writer thread this made for itself and stops at close; null when the clock was given. */
    private final ThreadClock ownWriter;
    private final BoundedFrequencyRunner heartbeats;
    private final ProxyMetrics metrics;
    private final ProxierHealth health;
    private final List<Runnable> afterWrite = new java.util.concurrent.CopyOnWriteArrayList<>();
    private final List<Runnable> everySecond = new java.util.concurrent.CopyOnWriteArrayList<>();
    private volatile dev.ferry.daemon.plane.DataPlane plane;
    private final List<Runnable> afterRebuild = new java.util.concurrent.CopyOnWriteArrayList<>();
    private volatile long syncs;
    private long heartbeatCount;
    /** The last full snapshot {@link #apply} wrote: what a rebuilt table is filled with again. */
    private volatile List<ServicePort> lastFull;
    /** Why the table cannot serve what it should now (health's "table" condition); null when it can. */
    private volatile String failure;
    /** The damage last logged, so that one damage is logged once, not every second. */
    private String loggedDamage;
    private String loggedRebuildFailure;
    /** A rebuilt table is empty until a full sync has written it again. */
    private boolean awaitingFullSync;

    public TableSync(ServiceTable table, ProxyMetrics metrics, ProxierHealth health) {
        this(table, metrics, health, new ThreadClock("ferry-table-writer"), true);
    }

    /** As the three-argument constructor, writing on {@code clock}'s thread (tests: a ManualClock). */
    public TableSync(ServiceTable table, ProxyMetrics metrics, ProxierHealth health, RunnerClock clock) {
        this(table, metrics, health, clock, false);
    }

    private TableSync(ServiceTable table, ProxyMetrics metrics, ProxierHealth health, RunnerClock clock, boolean own) {
        this.table = table;
        this.metrics = metrics;
        this.health = health;
        this.writer = clock;
        this.ownWriter = own ? (ThreadClock) clock : null;
        health.require("table", () -> failure);
        // Purely periodic (nobody asks for a heartbeat): maxInterval 1 s is the whole schedule.
        this.heartbeats = new BoundedFrequencyRunner("table heartbeat", () -> {
            heartbeat();
            return true;
        }, Duration.ZERO, Duration.ofSeconds(1), 1, clock).start();
    }

    /**
     * Runs {@code hook} on the writer thread after a damaged table was rebuilt empty, to have the
     * source write everything again (the API source: a full sync). Snapshots given to {@link #apply}
     * are written again without a hook.
     */
    public void afterRebuild(Runnable hook) {
        afterRebuild.add(hook);
    }

    /** Why the table cannot serve what it should, or null (what /healthz reports as "table: ..."). */
    public String failure() {
        return failure;
    }

    /** Queues a full snapshot; the returned future completes once it is in the table. */
    public CompletableFuture<ServiceTable.SyncResult> apply(List<ServicePort> ports) {
        return write(true, t -> {
            lastFull = ports;
            return t.replaceAll(ports);
        });
    }

    /**
     * Runs {@code hook} on the writer thread after every write and every 5 s (e.g. the service
     * health-check servers, which read the table and retry ports they could not bind). Add before
     * the first write.
     */
    public void afterEveryWrite(Runnable hook) {
        afterWrite.add(hook);
    }

    /** Runs {@code tick} on the writer thread once a second (e.g. checking what the kernel holds against the table). */
    public void everySecond(Runnable tick) {
        everySecond.add(tick);
    }

    /** Runs {@code task} on the writer thread soon (dropped once the writer stopped); failures are logged. */
    public void runOnWriter(Runnable task) {
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
    public void followedBy(dev.ferry.daemon.plane.DataPlane plane) {
        this.plane = plane;
    }

    private boolean planeReportsSyncs() {
        dev.ferry.daemon.plane.DataPlane p = plane;
        return p != null && p.reportsSyncs();
    }

    /**
     * Whether the table is a desired state the data plane may follow: once a source has written it,
     * and not while a rebuilt table waits for its full sync. Before that the table is empty or
     * partial, and a rule loop handed it would take every service out of the kernel — on every
     * restart whose source takes more than the 5 s heartbeat to list, and after every rebuild.
     * The rules, addresses and listeners the previous run left serve meanwhile.
     */
    private boolean hooksMayRun() {
        return syncs > 0 && !awaitingFullSync;
    }

    /** Runs one heartbeat on the writer thread and waits for it (tests: no waiting for the timer). */
    public void heartbeatNow() throws Exception {
        CompletableFuture.runAsync(this::heartbeat, writer).get(10, TimeUnit.SECONDS);
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
    public CompletableFuture<ServiceTable.SyncResult> write(boolean full, Function<ServiceTable, ServiceTable.SyncResult> op) {
        health.queuedUpdate();
        metrics.syncQueued(System.currentTimeMillis());
        return CompletableFuture.supplyAsync(() -> {
            if (!intact()) {
                throw new IllegalStateException("table not written: " + failure);
            }
            long start = System.nanoTime();
            ServiceTable.SyncResult r;
            try {
                r = op.apply(table);
            } catch (InternalError fault) {
                // The mapping faulted under the write (the file was cut meanwhile): never let an
                // Error out of the writer; the check below finds and repairs what happened.
                intact();
                throw new IllegalStateException("table write faulted: " + fault.getMessage(), fault);
            } catch (RuntimeException e) {
                failure = "last write failed: " + e.getMessage();
                throw e;
            }
            long nanos = System.nanoTime() - start;
            if (full && awaitingFullSync) {
                awaitingFullSync = false;
                LOG.info("service table {} is whole again: rewritten by a full sync after its rebuild", table.file());
            }
            if (!awaitingFullSync) {
                failure = null;
            }
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
            if (hooksMayRun()) {
                runHooks();
            }
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
    public TableSink sink() {
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
                dev.ferry.daemon.plane.DataPlane p = plane;
                if (p != null) {
                    p.whenApplied(programmed);
                } else {
                    programmed.run();
                }
            }
            return r;
        };
    }

    public long syncs() {
        return syncs;
    }

    private void heartbeat() {
        try {
            if (intact()) {
                table.heartbeat();
                table.reclaim();
            }
            for (Runnable tick : everySecond) {
                tick.run();
            }
            if (++heartbeatCount % 5 == 0 && hooksMayRun()) {
                runHooks();
            }
        } catch (RuntimeException | InternalError e) {
            LOG.warn("heartbeat failed: {}", e.toString());
        }
    }

    /**
     * Checks the table file (once a second and before every write) and repairs it when it can: a
     * truncated or overwritten table is logged once, reported to health, rebuilt in place (empty)
     * and written again from the last snapshot or by the source's full sync. A table file removed or
     * replaced at its path is logged once but is not a health failure: this process still maps the
     * old file and serves from it; only other processes (`ferry dump`) lose sight of it.
     *
     * @return whether the table may be written now
     */
    private boolean intact() {
        String damage = table.damage();
        if (damage == null) {
            loggedDamage = null;
            return true;
        }
        if (!damage.equals(loggedDamage)) {
            loggedDamage = damage;
            LOG.error("{}", damage);
        }
        if (!table.repairable()) {
            return true;
        }
        failure = damage;
        try {
            table.rebuild();
        } catch (IOException | RuntimeException | InternalError e) {
            failure = damage + "; rebuilding it failed: " + e.getMessage();
            if (!failure.equals(loggedRebuildFailure)) {
                loggedRebuildFailure = failure;
                LOG.error("service table {}: rebuilding it failed, retrying every second: {}", table.file(), e.toString());
            }
            return false;
        }
        loggedRebuildFailure = null;
        awaitingFullSync = true;
        failure = damage + "; rebuilt empty, waiting to be written again";
        LOG.warn("service table {} rebuilt in place (empty); writing the desired state again", table.file());
        List<ServicePort> last = lastFull;
        if (last != null) {
            ServiceTable.SyncResult r = table.replaceAll(last);
            awaitingFullSync = false;
            failure = null;
            LOG.info("service table {} is whole again: {} service ports written back (generation {})", table.file(),
                    r.added(), table.generation());
            runHooks();
        }
        for (Runnable hook : afterRebuild) {
            try {
                hook.run();
            } catch (RuntimeException e) {
                LOG.warn("after-rebuild hook failed: {}", e.toString());
            }
        }
        return true;
    }

    @Override
    public void close() throws Exception {
        heartbeats.close();
        // The writes already handed over still run; then the thread ends.
        if (ownWriter != null && !ownWriter.close(Duration.ofSeconds(3))) {
            LOG.warn("table writer still busy after 3 s at shutdown; closing the table anyway");
        }
        table.close();
    }
}
