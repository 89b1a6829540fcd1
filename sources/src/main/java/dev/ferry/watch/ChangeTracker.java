package dev.ferry.watch;

import dev.ferry.convert.Conversion;
import dev.ferry.model.Rejection;
import dev.ferry.model.RejectionReason;
import dev.ferry.convert.ServiceConverter;
import dev.ferry.model.ServicePort;
import dev.ferry.model.ServicePortName;
import dev.ferry.select.EndpointSelector;
import dev.ferry.select.NodeInfo;
import dev.ferry.table.ServiceTable;
import io.fabric8.kubernetes.api.model.Service;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Coalesces API events into table updates on a bounded-frequency loop, like kube-proxy's
 * BoundedFrequencyRunner: event threads only mark services dirty ({@link #serviceChanged}); one sync
 * thread ("ferry-sync") converts the dirty services from the {@link ClusterCache}, runs
 * {@link EndpointSelector} with this node's {@link NodeInfo}, and hands only the service ports that
 * changed to the {@link TableSink}. It syncs no more often than {@code minSyncPeriod} under churn, at
 * once after a quiet spell, fully after the node's zone changes or when asked, and not at all before
 * the cache has synced (a first table with services but no endpoints would flap). Like kube-proxy
 * 1.32, whose periodic syncs are partial with a full one every hour, the timer does not convert every
 * service again each {@code syncPeriod}: that took ~1 s of CPU at 10 000 services, during which a
 * change waited. Every {@code syncPeriod} it retries only the services the table refused to store
 * (e.g. a frontend conflict that another service's removal may have resolved), and it converts and
 * hands over everything once per {@link #FULL_RESYNC} (the table skips identical records).
 *
 * <p>Memory: per service the tracker keeps only the names of its ports and a 64-bit fingerprint of
 * each converted port (no converted objects), so its heap is a few dozen bytes per service port; the
 * converted ports live in the off-heap table. Unchanged ports are found by fingerprint and never
 * handed to the sink except in full syncs.
 *
 * <p>Bad input: a Service that fails conversion keeps its last good entries ({@link TableUpdate#retained()})
 * until fixed or deleted; a bad EndpointSlice contributes no endpoints. Each distinct rejection is
 * logged once as a warning with its Kubernetes-style reason, counted in {@link SyncStats}, and passed
 * to the rejection listener (for Events). A sink that throws has its changes retried as a full sync.
 *
 * <p>Thread-safety: {@link #serviceChanged}, {@link #nodeChanged}, {@link #requestFullSync},
 * {@link #reject} and {@link #stats} are safe from any thread; {@link #start} and {@link #close}
 * once each. The sink is called only from the sync thread.
 *
 * <pre>{@code
 * ChangeTracker tracker = new ChangeTracker(cache, new TableWriterSink(table), SyncPeriods.DEFAULTS,
 *         new NodeInfo("node-a", "zone-1"));
 * tracker.start();
 * tracker.serviceChanged("default/web");   // from an informer handler
 * tracker.close();                          // stops the thread; the table stays as it is
 * }</pre>
 */
public final class ChangeTracker implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ChangeTracker.class);
    private static final long IDLE_NANOS = TimeUnit.SECONDS.toNanos(1);
    private static final long MIN_RETRY_NANOS = TimeUnit.SECONDS.toNanos(1);
    private static final long NOT_SYNCED_POLL_NANOS = TimeUnit.MILLISECONDS.toNanos(20);
    /** How often the timer converts every service again (kube-proxy's FullSyncPeriod). */
    public static final Duration FULL_RESYNC = Duration.ofHours(1);
    /** Trigger times kept between two syncs; beyond this only the latency histogram loses samples. */
    private static final int MAX_PENDING_TRIGGERS = 100_000;

    private final ClusterCache cache;
    private final TableSink sink;
    private final long minSyncNanos;
    private final long syncPeriodNanos;
    private final SyncStats stats = new SyncStats();
    private final long createdMillis = System.currentTimeMillis();
    private final CountDownLatch firstSync = new CountDownLatch(1);
    private final Map<String, Set<Rejection>> rejected = new ConcurrentHashMap<>();
    private volatile Consumer<Rejection> rejectionListener = r -> {};

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition wake = lock.newCondition();
    // Guarded by lock.
    private Set<String> dirty = new HashSet<>();
    private List<Long> triggers = new ArrayList<>();
    private boolean fullRequested = true;
    private NodeInfo node;
    private long pendingSinceMillis;
    private boolean closed;
    private Thread thread;

    // Sync thread only.
    private final Map<String, PortPrints> state = new HashMap<>();
    /** Services with a port the table refused at the last sync: retried every syncPeriod. */
    private final Set<String> refused = new HashSet<>();
    private long servicePortCount;

    /** What the tracker remembers of one accepted service: its port names and their fingerprints. */
    private record PortPrints(ServicePortName[] names, long[] prints) {
        long printOf(ServicePortName n) {
            for (int i = 0; i < names.length; i++) {
                if (names[i].equals(n)) {
                    return prints[i];
                }
            }
            return 0;
        }

        boolean has(ServicePortName n) {
            for (ServicePortName m : names) {
                if (m.equals(n)) {
                    return true;
                }
            }
            return false;
        }
    }

    public ChangeTracker(ClusterCache cache, TableSink sink, SyncPeriods periods, NodeInfo node) {
        this.cache = Objects.requireNonNull(cache, "cache");
        this.sink = Objects.requireNonNull(sink, "sink");
        this.minSyncNanos = periods.minSyncPeriod().toNanos();
        this.syncPeriodNanos = periods.syncPeriod().toNanos();
        this.node = Objects.requireNonNull(node, "node");
    }

    /** Receives each distinct rejection once (e.g. to post a Kubernetes Event); called from any thread. */
    public void onRejection(Consumer<Rejection> listener) {
        this.rejectionListener = Objects.requireNonNull(listener, "listener");
    }

    /** Starts the sync thread. */
    public void start() {
        lock.lock();
        try {
            if (thread != null) {
                throw new IllegalStateException("already started");
            }
            thread = new Thread(this::run, "ferry-sync");
            thread.setDaemon(true);
            thread.start();
        } finally {
            lock.unlock();
        }
    }

    /** Marks the Service "namespace/name" as changed (it, or one of its EndpointSlices). */
    public void serviceChanged(String key) {
        serviceChanged(key, 0);
    }

    /**
     * Marks the Service "namespace/name" as changed; {@code triggerMillis} (epoch millis, 0 if
     * unknown) is when the API changed, for the network programming latency (ignored when older than
     * the tracker itself, as kube-proxy ignores changes from before its start).
     */
    public void serviceChanged(String key, long triggerMillis) {
        lock.lock();
        try {
            dirty.add(key);
            // As kube-proxy: a change older than the tracker (the initial list) says nothing about
            // how fast we program the table.
            if (triggerMillis > createdMillis && triggers.size() < MAX_PENDING_TRIGGERS) {
                triggers.add(triggerMillis);
            }
            markPending();
        } finally {
            lock.unlock();
        }
    }

    /** The node's name or zone changed: every service is selected again in a full sync. */
    public void nodeChanged(NodeInfo newNode) {
        Objects.requireNonNull(newNode, "newNode");
        lock.lock();
        try {
            if (!newNode.equals(node)) {
                log.info("node is now {} (zone '{}'): full sync", newNode.name(), newNode.zone());
                node = newNode;
                fullRequested = true;
                markPending();
            }
        } finally {
            lock.unlock();
        }
    }

    public NodeInfo node() {
        lock.lock();
        try {
            return node;
        } finally {
            lock.unlock();
        }
    }

    /** Asks for a full sync at the next allowed moment. */
    public void requestFullSync() {
        lock.lock();
        try {
            fullRequested = true;
            markPending();
        } finally {
            lock.unlock();
        }
    }

    /**
     * Records the rejections of the object {@code key} (e.g. "EndpointSlice ns/name"), replacing what
     * was recorded for it: new ones are logged, counted and passed to the listener; an empty list
     * clears the object. Safe from any thread.
     */
    public void reject(String key, List<Rejection> now) {
        Set<Rejection> current = now.isEmpty() ? null : new LinkedHashSet<>(now);
        Set<Rejection> before = current == null ? rejected.remove(key) : rejected.put(key, current);
        if (current != null) {
            for (Rejection r : current) {
                if (before == null || !before.contains(r)) {
                    log.warn("{} (reason {})", r, r.reason().code());
                    stats.rejected(r.reason());
                    try {
                        rejectionListener.accept(r);
                    } catch (RuntimeException e) {
                        log.warn("rejection listener failed: {}", e.toString());
                    }
                }
            }
        }
        if (before != null || current != null) {
            long n = 0;
            for (Set<Rejection> s : rejected.values()) {
                n += s.size();
            }
            stats.rejectedNow(n);
        }
    }

    public SyncStats stats() {
        return stats;
    }

    /** Waits until the first full sync has been applied; false on timeout. */
    public boolean awaitFirstSync(Duration timeout) throws InterruptedException {
        return firstSync.await(timeout.toNanos(), TimeUnit.NANOSECONDS);
    }

    /** Stops the sync thread (waiting up to 10 s for a sync in progress). The table is left as it is. */
    @Override
    public void close() {
        Thread t;
        lock.lock();
        try {
            closed = true;
            wake.signalAll();
            t = thread;
        } finally {
            lock.unlock();
        }
        if (t != null && t != Thread.currentThread()) {
            try {
                t.join(TimeUnit.SECONDS.toMillis(10));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            if (t.isAlive()) {
                log.warn("sync thread did not stop within 10 s");
            }
        }
    }

    private void markPending() {
        if (pendingSinceMillis == 0) {
            pendingSinceMillis = System.currentTimeMillis();
            if (stats.oldestPendingChangeMillis() == 0) {
                stats.pendingSince(pendingSinceMillis);
            }
        }
        wake.signalAll();
    }

    // ---- the sync thread ---------------------------------------------------------------------

    private void run() {
        try {
            loop();
        } catch (Throwable t) {
            // Nothing more is written; pending changes age, so /healthz turns unhealthy and the
            // kubelet restarts the daemon, while the table keeps serving what it holds.
            log.error("sync thread stopped: the table is no longer updated", t);
            throw t;
        }
    }

    private void idle() {
        try {
            sink.idle();
        } catch (RuntimeException e) {
            log.warn("table sink idle work failed: {}", e.toString());
        }
    }

    private void loop() {
        long lastStart = System.nanoTime() - minSyncNanos - 1;
        long nextFull = System.nanoTime();
        long nextIdle = System.nanoTime() + IDLE_NANOS;
        long retryAt = Long.MIN_VALUE;
        long nextRefusedRetry = System.nanoTime() + syncPeriodNanos;
        boolean firstDone = false;
        while (true) {
            boolean full;
            Set<String> keys;
            List<Long> times;
            NodeInfo n;
            long takenSince;
            long now;
            lock.lock();
            try {
                boolean idle = false;
                while (true) {
                    if (closed) {
                        return;
                    }
                    now = System.nanoTime();
                    boolean ready = firstDone || cache.hasSynced();
                    long runAt = Long.MAX_VALUE;
                    if (ready) {
                        boolean pending = fullRequested || !dirty.isEmpty();
                        if (pending) {
                            runAt = lastStart + minSyncNanos;
                        }
                        runAt = earlier(runAt, nextFull);
                        if (!refused.isEmpty()) {
                            runAt = earlier(runAt, nextRefusedRetry);
                        }
                        if (retryAt != Long.MIN_VALUE && runAt != Long.MAX_VALUE) {
                            runAt = later(runAt, retryAt);
                        }
                    }
                    if (runAt != Long.MAX_VALUE && now - runAt >= 0) {
                        break;
                    }
                    if (now - nextIdle >= 0) {
                        idle = true;
                        break;
                    }
                    long until = earlier(runAt, nextIdle);
                    long wait = until - now;
                    if (!ready) {
                        wait = Math.min(wait, NOT_SYNCED_POLL_NANOS);
                    }
                    try {
                        wake.awaitNanos(Math.max(wait, 1));
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        return;
                    }
                }
                if (idle) {
                    full = false;
                    keys = null;
                    times = null;
                    n = null;
                    takenSince = 0;
                } else {
                    full = fullRequested || !firstDone || now - nextFull >= 0;
                    fullRequested = false;
                    if (!refused.isEmpty() && now - nextRefusedRetry >= 0) {
                        dirty.addAll(refused);
                        nextRefusedRetry = now + syncPeriodNanos;
                    }
                    keys = dirty;
                    dirty = new HashSet<>();
                    times = triggers;
                    triggers = new ArrayList<>();
                    n = node;
                    takenSince = pendingSinceMillis;
                    pendingSinceMillis = 0;
                }
            } finally {
                lock.unlock();
            }
            if (keys == null) {
                idle();
                nextIdle = System.nanoTime() + IDLE_NANOS;
                continue;
            }
            lastStart = now;
            try {
                sync(full, keys, times, n);
                retryAt = Long.MIN_VALUE;
                if (full) {
                    nextFull = now + FULL_RESYNC.toNanos();
                }
                if (!firstDone) {
                    firstDone = true;
                    firstSync.countDown();
                }
                lock.lock();
                try {
                    stats.pendingSince(pendingSinceMillis);
                } finally {
                    lock.unlock();
                }
            } catch (RuntimeException e) {
                stats.failed();
                long backoff = Math.max(minSyncNanos, MIN_RETRY_NANOS);
                log.warn("table sync failed, retrying as a full sync in {} ms: {}", backoff / 1_000_000, e.toString(), e);
                retryAt = System.nanoTime() + backoff;
                lock.lock();
                try {
                    fullRequested = true;
                    dirty.addAll(keys);
                    if (triggers.size() + times.size() <= MAX_PENDING_TRIGGERS) {
                        triggers.addAll(times);
                    }
                    if (pendingSinceMillis == 0 || (takenSince != 0 && takenSince < pendingSinceMillis)) {
                        pendingSinceMillis = takenSince == 0 ? System.currentTimeMillis() : takenSince;
                    }
                    stats.pendingSince(pendingSinceMillis);
                } finally {
                    lock.unlock();
                }
            }
            if (System.nanoTime() - nextIdle >= 0) {
                idle();
                nextIdle = System.nanoTime() + IDLE_NANOS;
            }
        }
    }

    private static long earlier(long a, long b) {
        if (a == Long.MAX_VALUE) return b;
        if (b == Long.MAX_VALUE) return a;
        return a - b <= 0 ? a : b;
    }

    private static long later(long a, long b) {
        return a - b >= 0 ? a : b;
    }

    private void sync(boolean full, Set<String> keys, List<Long> times, NodeInfo n) {
        long start = System.nanoTime();
        List<ServicePort> puts = new ArrayList<>();
        List<ServicePortName> removed = new ArrayList<>();
        List<ServicePortName> retained = new ArrayList<>();
        Map<String, PortPrints> next = new HashMap<>();
        Set<String> gone = new HashSet<>();
        Set<String> todo;
        int ignored = 0;
        if (full) {
            todo = new LinkedHashSet<>(cache.serviceKeys());
            todo.addAll(state.keySet());
            todo.addAll(keys);
        } else {
            todo = keys;
        }
        long portDelta = 0;
        for (String key : todo) {
            PortPrints old = state.get(key);
            Service svc = cache.service(key);
            if (svc == null || ServiceFilter.ignoredService(svc)) {
                if (svc != null) {
                    ignored++;
                }
                reject("Service " + key, List.of());
                if (old != null) {
                    removed.addAll(List.of(old.names()));
                    gone.add(key);
                    portDelta -= old.names().length;
                }
                continue;
            }
            List<ServicePort> ports = convert(key, svc, n);
            if (ports == null) {
                if (old != null) {
                    retained.addAll(List.of(old.names()));
                }
                continue;
            }
            ServicePortName[] names = new ServicePortName[ports.size()];
            long[] prints = new long[ports.size()];
            for (int i = 0; i < names.length; i++) {
                ServicePort sp = ports.get(i);
                names[i] = sp.name();
                prints[i] = Fingerprint.of(sp);
                if (full || old == null || !old.has(names[i]) || old.printOf(names[i]) != prints[i]) {
                    puts.add(sp);
                }
            }
            PortPrints now = new PortPrints(names, prints);
            if (old != null) {
                for (ServicePortName o : old.names()) {
                    if (!now.has(o)) {
                        removed.add(o);
                    }
                }
                portDelta -= old.names().length;
            }
            portDelta += names.length;
            next.put(key, now);
        }
        long[] changeTimes = new long[times.size()];
        for (int i = 0; i < changeTimes.length; i++) {
            changeTimes[i] = times.get(i);
        }
        TableUpdate update = new TableUpdate(full, puts, removed, retained, changeTimes);
        ServiceTable.SyncResult result = update.isEmpty() ? null : sink.apply(update);
        if (result != null) {
            noteRefused(puts, result.errors(), next);
        }
        if (full) {
            refused.retainAll(next.keySet());
        } else {
            refused.removeAll(gone);
        }

        // Committed only after the sink succeeded, so a failed apply is retried with the old state.
        state.keySet().removeAll(gone);
        state.putAll(next);
        servicePortCount += portDelta;
        long endMillis = System.currentTimeMillis();
        for (long t : changeTimes) {
            stats.programmed(endMillis - t);
        }
        if (full) {
            stats.ignored(ignored);
        }
        long duration = System.nanoTime() - start;
        stats.synced(full, endMillis, duration, servicePortCount);
        if (result != null) {
            stats.written(result.added(), result.updated(), result.removed());
            for (String e : result.errors()) {
                log.warn("service port not written: {}", e);
            }
            boolean loud = full && (stats.fullSyncs() == 1 || result.changed());
            if (loud || log.isDebugEnabled()) {
                String line = String.format("%s sync of %d services: %d added, %d updated, %d removed, %d unchanged, "
                                + "%d retained, %d errors in %d ms", full ? "full" : "partial", todo.size(), result.added(),
                        result.updated(), result.removed(), result.unchanged(), retained.size(), result.errors().size(),
                        duration / 1_000_000);
                if (loud) {
                    log.info(line);
                } else {
                    log.debug(line);
                }
            }
        }
    }

    /**
     * Remembers the services whose ports the table refused ({@link TableWriterSink} reports each as
     * "servicePortName: reason") and forgets their fingerprints, so the retry every syncPeriod hands
     * them over again; services written in full leave the set.
     */
    private void noteRefused(List<ServicePort> puts, List<String> errors, Map<String, PortPrints> next) {
        Set<String> failed = new HashSet<>();
        if (!errors.isEmpty()) {
            Map<String, ServicePort> byName = new HashMap<>();
            for (ServicePort sp : puts) {
                byName.put(sp.name() + ": ", sp);
            }
            for (String e : errors) {
                for (Map.Entry<String, ServicePort> c : byName.entrySet()) {
                    if (e.startsWith(c.getKey())) {
                        ServicePortName n = c.getValue().name();
                        String key = n.namespace() + "/" + n.name();
                        failed.add(key);
                        PortPrints p = next.get(key);
                        if (p != null) {
                            for (int i = 0; i < p.names().length; i++) {
                                if (p.names()[i].equals(n)) {
                                    p.prints()[i] = 0; // never a match: handed over again
                                }
                            }
                        }
                    }
                }
            }
        }
        for (ServicePort sp : puts) {
            String key = sp.name().namespace() + "/" + sp.name().name();
            if (!failed.contains(key)) {
                refused.remove(key);
            }
        }
        refused.addAll(failed);
    }

    /** The selected ports of an accepted service, or null when the Service itself was rejected. */
    private List<ServicePort> convert(String key, Service svc, NodeInfo n) {
        Conversion c;
        try {
            c = ServiceConverter.convert(svc, cache.slicesOf(key).stream().filter(s -> !ServiceFilter.ignoredSlice(s)).toList());
        } catch (RuntimeException bug) {
            // A converter bug must not stop the other services.
            log.error("Service {}: conversion failed", key, bug);
            c = new Conversion(List.of(), List.of(new Rejection("Service", svc.getMetadata().getNamespace(),
                    svc.getMetadata().getName(), "", RejectionReason.INVALID_VALUE, "Internal error: " + bug)));
        }
        reject("Service " + key, c.rejections());
        if (c.ports().isEmpty() && c.rejections().stream().anyMatch(r -> r.kind().equals("Service"))) {
            return null;
        }
        return EndpointSelector.selectAll(c.ports(), n);
    }
}
