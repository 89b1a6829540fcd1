package dev.ferry.rules;

import dev.ferry.model.ServicePort;
import dev.ferry.runner.BoundedFrequencyRunner;
import dev.ferry.runner.RunnerClock;
import dev.ferry.runner.ThreadClock;
import dev.ferry.table.TableChange;
import dev.ferry.table.TableMirror;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Drives one {@link RuleSyncer}: coalesces updates (only the latest desired state is applied), syncs
 * partially on change, fully after any failure, and retries a failed apply with exponential back-off
 * while the kernel keeps the previous rules. Every syncPeriod it checks the kernel
 * ({@link RuleSyncer#drift()}, cheap: no rendering, no apply) and rewrites everything only when the
 * rules drifted or the backend cannot tell, and in any case once per {@link #FULL_SYNC_PERIOD}, as
 * kube-proxy 1.32's periodic syncs are partial with a full one every hour. A change never waits
 * behind the periodic work: pending changes are taken before the check, and a change offered while
 * a sync runs is applied right after it. Nothing is flushed when it starts or stops: {@link #close()}
 * only ends the thread.
 *
 * <p>When it runs is decided by a {@link BoundedFrequencyRunner} (no minimum interval: the change
 * tracker upstream already bounds how often the desired state changes; syncPeriod as its maximum);
 * what a run does — change, check, rewrite, or nothing yet because a back-off is still running — is
 * decided here. The next check and the end of a back-off are handed to the runner as
 * {@link BoundedFrequencyRunner#retryAfter}. Time and the thread come from a {@link RunnerClock}, so
 * tests drive the periods with a {@link dev.ferry.runner.ManualClock} instead of sleeping.
 *
 * <p>Thread-safe: {@link #update} may be called from any thread; the syncer runs on the clock's
 * thread only ("ferry-sync-NAME" unless a clock is given).
 */
public final class SyncLoop implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(SyncLoop.class);

    /** How often the periodic sync is a full re-render and rewrite even when no drift was seen (kube-proxy's FullSyncPeriod). */
    public static final Duration FULL_SYNC_PERIOD = Duration.ofHours(1);

    private final RuleSyncer syncer;
    private final Duration syncPeriod;
    private final RunnerClock clock;
    /** The clock this loop made for itself and closes; null when the clock was given. */
    private final ThreadClock ownClock;
    private final BoundedFrequencyRunner runner;
    private final Backoff backoff;
    private final SyncCounters counters = new SyncCounters();
    private final ReentrantLock lock = new ReentrantLock();
    private List<ServicePort> pending; // guarded by lock; null = nothing new
    private List<ServicePort> current = List.of(); // loop thread only
    private boolean haveState; // loop thread only
    private boolean closed; // guarded by lock
    private boolean resyncRequested; // guarded by lock
    private volatile long generationApplied;
    private volatile String lastError;
    private volatile Listener listener = (generation, full, nanos) -> { };
    private long generationOffered; // guarded by lock
    /** The followed table moved ({@link #offer()}); guarded by lock. */
    private boolean tableMoved;
    /** The table this loop follows through its change feed, or null when states are offered as lists. */
    private TableMirror mirror;
    /** Whether the syncer's last call succeeded, so the feed's change since then is what it has not seen; loop thread only. */
    private boolean lastSyncOk;
    private String lastDrift; // loop thread only

    // Loop thread only: the loop's own decisions between runs.
    private boolean needFull = true;
    private long lastFull;
    private long nextCheck;
    private boolean retrying;
    private long retryAt;
    private long gen;

    /** A loop on its own daemon thread, "ferry-sync-NAME". */
    public SyncLoop(String name, RuleSyncer syncer, Duration syncPeriod, Backoff backoff) {
        this(name, syncer, syncPeriod, backoff, new ThreadClock("ferry-sync-" + name), true);
    }

    /** As {@link #SyncLoop(String, RuleSyncer, Duration, Backoff)}, running on {@code clock}'s thread and time. */
    public SyncLoop(String name, RuleSyncer syncer, Duration syncPeriod, Backoff backoff, RunnerClock clock) {
        this(name, syncer, syncPeriod, backoff, clock, false);
    }

    private SyncLoop(String name, RuleSyncer syncer, Duration syncPeriod, Backoff backoff, RunnerClock clock, boolean own) {
        this.clock = clock;
        this.ownClock = own ? (ThreadClock) clock : null;
        this.syncer = syncer;
        this.syncPeriod = syncPeriod;
        this.backoff = backoff;
        this.runner = new BoundedFrequencyRunner("rule sync " + name, this::runOnce, Duration.ZERO, syncPeriod, 1, clock);
    }

    /**
     * Told, on the loop thread, of every successful sync (what the sync metrics and health measure): a
     * change applied, a full rewrite, or a periodic check that found the kernel holding the rules
     * (partial, {@code nanos} the check), as kube-proxy counts its periodic partial syncs.
     */
    @FunctionalInterface
    public interface Listener {
        /** The kernel holds the rules of {@code generation}; {@code nanos} is the whole sync, render and apply (or check). */
        void applied(long generation, boolean full, long nanos);
    }

    /** Sets the listener; call before {@link #start()}. */
    public SyncLoop onApplied(Listener l) {
        this.listener = l;
        return this;
    }

    /** The last failure's message while syncs keep failing; null after a success. */
    public String lastError() {
        return lastError;
    }

    public SyncLoop start() {
        clock.execute(() -> {
            lastFull = clock.nanoTime();
            nextCheck = lastFull + syncPeriod.toNanos();
        });
        runner.start();
        return this;
    }

    /**
     * Makes this loop follow a service table (call before {@link #start()}): {@link #offer()} then
     * says the table moved, and before each sync the loop catches up with the table's change feed
     * on its own thread, reading only the records that changed, and hands the syncer the change with
     * the whole desired state ({@link RuleSyncer#sync(java.util.NavigableMap, TableChange, boolean)}).
     */
    public SyncLoop follow(TableMirror table) {
        this.mirror = table;
        return this;
    }

    /**
     * The followed table has a new generation (any thread); returns the loop's generation for it, as
     * {@link #update} does. The loop reads what changed itself, before its next sync.
     */
    public long offer() {
        if (mirror == null) {
            throw new IllegalStateException("offer() needs a table to follow: call follow() first");
        }
        long offered;
        lock.lock();
        try {
            tableMoved = true;
            offered = ++generationOffered;
        } finally {
            lock.unlock();
        }
        runner.run();
        return offered;
    }

    /** Offers a new desired state (already through the endpoint selector); returns its generation. */
    public long update(List<ServicePort> ports) {
        long offered;
        lock.lock();
        try {
            pending = List.copyOf(ports);
            offered = ++generationOffered;
        } finally {
            lock.unlock();
        }
        runner.run();
        return offered;
    }

    /**
     * Asks for a full sync of the current desired state soon (not waiting for the sync period), for
     * a change of the syncer's own settings rather than of the services; a no-op before the first
     * {@link #update}. Any thread.
     */
    public void requestFullSync() {
        lock.lock();
        try {
            resyncRequested = true;
        } finally {
            lock.unlock();
        }
        runner.run();
    }

    /** The newest generation that is in the kernel (0 before the first success). */
    public long generationApplied() {
        return generationApplied;
    }

    public SyncCounters counters() {
        return counters;
    }

    /**
     * One run, on the clock's thread: the pending change if there is one (a change never waits
     * behind the periodic work), else the periodic check when it is due; nothing while a back-off
     * runs (a newer state does not cancel it: hammering a kernel that just refused us helps nobody;
     * the retry applies the newest state anyway). Returns whether it did anything.
     */
    private boolean runOnce() {
        long now = clock.nanoTime();
        boolean change;
        lock.lock();
        try {
            if (closed) {
                return false;
            }
            if (retrying && now - retryAt < 0) {
                runner.retryAfter(Duration.ofNanos(retryAt - now));
                return false;
            }
            change = pending != null || tableMoved;
            if (change) {
                if (pending != null) {
                    current = pending;
                }
                pending = null;
                tableMoved = false;
                haveState = true;
                gen = generationOffered;
            }
            if (resyncRequested && haveState) {
                resyncRequested = false;
                needFull = true;
            }
            if (!change && !retrying && !(haveState && (needFull || now - nextCheck >= 0))) {
                // The runner's periodic run with nothing due yet (or no state to sync at all).
                scheduleNext(now);
                return false;
            }
        } finally {
            lock.unlock();
        }
        if (!change && !needFull && !retrying) {
            // The timer, with no change waiting (changes are taken first, above): check the kernel
            // cheaply; re-render and rewrite everything only when it drifted, or once per
            // FULL_SYNC_PERIOD as kube-proxy does.
            nextCheck = now + syncPeriod.toNanos();
            if (now - lastFull < FULL_SYNC_PERIOD.toNanos()) {
                String drift;
                long started = clock.nanoTime();
                try {
                    drift = syncer.drift();
                } catch (java.io.IOException | RuntimeException e) {
                    drift = "checking the kernel failed: " + e.getMessage();
                }
                if (drift == null) {
                    counters.verifiedSyncs.incrementAndGet();
                    counters.lastVerifyNanos.set(clock.nanoTime() - started);
                    notifyApplied(gen, false, clock.nanoTime() - started);
                    scheduleNext(clock.nanoTime());
                    return true;
                }
                counters.driftRepairs.incrementAndGet();
                logDrift(drift);
            }
            needFull = true;
        }
        boolean full = needFull;
        long started = clock.nanoTime();
        try {
            SyncReport r = syncOnce(full);
            lastSyncOk = true;
            long took = clock.nanoTime() - started;
            (full ? counters.fullSyncs : counters.partialSyncs).incrementAndGet();
            counters.rejectedServicePorts.set(r.rejected().size());
            counters.lastRenderNanos.set(r.renderNanos());
            counters.lastApplyNanos.set(r.applyNanos());
            counters.consecutiveFailures.set(0);
            for (var rej : r.rejected()) {
                log.warn("left out of the rules: {} ({})", rej, rej.reason().code());
            }
            if (full) {
                lastFull = clock.nanoTime();
                nextCheck = lastFull + syncPeriod.toNanos();
            }
            needFull = false;
            retrying = false;
            backoff.reset();
            generationApplied = gen;
            lastError = null;
            notifyApplied(gen, full, took);
        } catch (ApplyException | RuntimeException | java.io.IOException e) {
            lastSyncOk = false;
            lastError = e.getMessage() == null ? e.toString() : e.getMessage();
            counters.failures.incrementAndGet();
            counters.consecutiveFailures.incrementAndGet();
            needFull = true;
            Duration d = backoff.nextDelay();
            retrying = true;
            retryAt = clock.nanoTime() + d.toNanos();
            log.error("rule sync failed, the kernel keeps the previous rules; full sync again in {} ms: {}",
                    d.toMillis(), e.getMessage());
        }
        scheduleNext(clock.nanoTime());
        return true;
    }

    /**
     * One call of the syncer: with the newest offered list, or, when following a table, after
     * catching up with its feed (the change the syncer is told is everything since its last
     * successful call; after a failure it is unknown).
     */
    private SyncReport syncOnce(boolean full) throws ApplyException, java.io.IOException {
        if (mirror == null) {
            return syncer.sync(current, full);
        }
        TableChange c = mirror.catchUp();
        if (!lastSyncOk && !c.full()) {
            c = TableChange.full(c.from(), c.to());
        }
        return syncer.sync(mirror.ports(), c, full);
    }

    /** Tells the runner when this loop wants its next look: the end of the back-off, or the next check. */
    private void scheduleNext(long now) {
        if (retrying) {
            runner.retryAfter(Duration.ofNanos(Math.max(0, retryAt - now)));
        } else if (haveState) {
            runner.retryAfter(Duration.ofNanos(Math.max(0, nextCheck - now)));
        }
    }

    private void notifyApplied(long gen, boolean full, long nanos) {
        try {
            listener.applied(gen, full, nanos);
        } catch (RuntimeException e) {
            log.warn("sync listener failed: {}", e.toString());
        }
    }

    /**
     * One line per drift found (at most one per syncPeriod): the first one and every 10th at WARN. A
     * reason equal to the previous one (a backend that can never tell, e.g. iptables-legacy or IPVS,
     * rewrites every period as before) is logged once, not every period.
     */
    private void logDrift(String drift) {
        if (drift.equals(lastDrift)) {
            log.debug("periodic check: {}; full sync now", drift);
            return;
        }
        lastDrift = drift;
        long n = counters.driftRepairs.get();
        if (n == 1 || n % 10 == 0) {
            log.warn("periodic check: the kernel may not hold Ferry's rules ({}); full sync now (drift repair {})", drift, n);
        } else {
            log.info("periodic check: the kernel may not hold Ferry's rules ({}); full sync now (drift repair {})", drift, n);
        }
    }

    /** Stops the loop (waiting up to 10 s for a sync in progress); the rules stay in the kernel. */
    @Override
    public void close() {
        lock.lock();
        try {
            closed = true;
        } finally {
            lock.unlock();
        }
        runner.close();
        if (ownClock != null) {
            ownClock.close();
        }
    }
}
