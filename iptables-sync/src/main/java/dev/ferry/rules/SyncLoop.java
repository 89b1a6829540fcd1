package dev.ferry.rules;

import dev.ferry.model.ServicePort;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Drives one {@link RuleSyncer}: coalesces updates (only the latest desired state is applied), syncs
 * partially on change, fully every syncPeriod and after any failure, and retries a failed apply with
 * exponential back-off while the kernel keeps the previous rules. Nothing is flushed when it starts
 * or stops: {@link #close()} only ends the thread.
 *
 * <p>Thread-safe: {@link #update} may be called from any thread; the syncer runs on the loop's own
 * daemon thread only.
 */
public final class SyncLoop implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(SyncLoop.class);

    private final RuleSyncer syncer;
    private final Duration syncPeriod;
    private final Backoff backoff;
    private final SyncCounters counters = new SyncCounters();
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private final Thread thread;
    private List<ServicePort> pending; // guarded by lock; null = nothing new
    private List<ServicePort> current = List.of(); // loop thread only
    private boolean haveState; // loop thread only
    private boolean closed; // guarded by lock
    private boolean resyncRequested; // guarded by lock
    private volatile long generationApplied;
    private volatile String lastError;
    private volatile Listener listener = (generation, full, nanos) -> { };
    private long generationOffered; // guarded by lock

    public SyncLoop(String name, RuleSyncer syncer, Duration syncPeriod, Backoff backoff) {
        this.syncer = syncer;
        this.syncPeriod = syncPeriod;
        this.backoff = backoff;
        this.thread = new Thread(this::run, "ferry-sync-" + name);
        this.thread.setDaemon(true);
    }

    /** Told, on the loop thread, of every successful sync (what the sync metrics and health measure). */
    @FunctionalInterface
    public interface Listener {
        /** The kernel holds the rules of {@code generation}; {@code nanos} is the whole sync, render and apply. */
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
        thread.start();
        return this;
    }

    /** Offers a new desired state (already through the endpoint selector); returns its generation. */
    public long update(List<ServicePort> ports) {
        lock.lock();
        try {
            pending = List.copyOf(ports);
            generationOffered++;
            changed.signalAll();
            return generationOffered;
        } finally {
            lock.unlock();
        }
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
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** The newest generation that is in the kernel (0 before the first success). */
    public long generationApplied() {
        return generationApplied;
    }

    public SyncCounters counters() {
        return counters;
    }

    private void run() {
        boolean needFull = true;
        long lastFull = System.nanoTime();
        long retryAt = 0;
        long gen = 0;
        while (true) {
            lock.lock();
            try {
                while (!closed) {
                    long now = System.nanoTime();
                    long fullDue = lastFull + syncPeriod.toNanos();
                    if (retryAt != 0) {
                        if (now >= retryAt) {
                            break;
                        }
                    } else if (pending != null || (haveState && (resyncRequested || now >= fullDue))) {
                        break;
                    }
                    long until = retryAt != 0 ? retryAt : (haveState ? fullDue : now + syncPeriod.toNanos());
                    try {
                        changed.awaitNanos(Math.max(1, until - now));
                    } catch (InterruptedException e) {
                        return;
                    }
                    if (retryAt != 0 && pending != null) {
                        // A newer state does not cancel the back-off: hammering a kernel that just
                        // refused us helps nobody; the retry below applies the newest state anyway.
                        continue;
                    }
                }
                if (closed) {
                    return;
                }
                if (pending != null) {
                    current = pending;
                    pending = null;
                    haveState = true;
                    gen = generationOffered;
                }
                if (resyncRequested) {
                    resyncRequested = false;
                    needFull = true;
                }
            } finally {
                lock.unlock();
            }
            boolean full = needFull || System.nanoTime() - lastFull >= syncPeriod.toNanos();
            long started = System.nanoTime();
            try {
                SyncReport r = syncer.sync(current, full);
                long took = System.nanoTime() - started;
                (full ? counters.fullSyncs : counters.partialSyncs).incrementAndGet();
                counters.rejectedServicePorts.set(r.rejected().size());
                counters.lastRenderNanos.set(r.renderNanos());
                counters.lastApplyNanos.set(r.applyNanos());
                counters.consecutiveFailures.set(0);
                for (var rej : r.rejected()) {
                    log.warn("left out of the rules: {} ({})", rej, rej.reason().code());
                }
                if (full) {
                    lastFull = System.nanoTime();
                }
                needFull = false;
                retryAt = 0;
                backoff.reset();
                generationApplied = gen;
                lastError = null;
                try {
                    listener.applied(gen, full, took);
                } catch (RuntimeException e) {
                    log.warn("sync listener failed: {}", e.toString());
                }
            } catch (ApplyException | RuntimeException | java.io.IOException e) {
                lastError = e.getMessage() == null ? e.toString() : e.getMessage();
                counters.failures.incrementAndGet();
                counters.consecutiveFailures.incrementAndGet();
                needFull = true;
                Duration d = backoff.nextDelay();
                retryAt = System.nanoTime() + d.toNanos();
                if (retryAt == 0) {
                    retryAt = 1;
                }
                log.error("rule sync failed, the kernel keeps the previous rules; full sync again in {} ms: {}",
                        d.toMillis(), e.getMessage());
            }
        }
    }

    /** Stops the loop thread; the rules stay in the kernel. */
    @Override
    public void close() {
        lock.lock();
        try {
            closed = true;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
        try {
            thread.join(TimeUnit.SECONDS.toMillis(10));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
