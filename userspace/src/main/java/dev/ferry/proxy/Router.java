package dev.ferry.proxy;

import dev.ferry.conntrack.AffinityKey;
import dev.ferry.conntrack.ConntrackState;
import dev.ferry.conntrack.Endpoint;
import dev.ferry.lb.FlowHash;
import dev.ferry.lb.Scheduler;
import dev.ferry.model.FrontendKind;
import dev.ferry.model.ServicePortName;
import dev.ferry.table.ServicePortView;
import dev.ferry.table.ServiceTableReader;
import dev.ferry.table.TableChange;
import io.netty.util.concurrent.FastThreadLocal;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.HdrHistogram.ConcurrentHistogram;
import org.agrona.collections.Long2ObjectHashMap;

/**
 * Answers, per new connection or UDP flow, "which service port, which backends, which one first":
 * looks the frontend up in the off-heap table, applies loadBalancerSourceRanges, picks among the
 * endpoints usable from that frontend (ClientIP affinity first, then the service's scheduler).
 *
 * <p>Thread-safe: event loops call {@link #resolve} concurrently (each with its own view and
 * flyweights); the table writer thread calls {@link #refresh}, which publishes a new immutable
 * stamp → state map. {@code resolve} allocates nothing unless it races a table change.
 */
final class Router {
    /** Outcomes of {@link #resolve} besides a position. */
    static final int NO_SERVICE = -1;
    static final int NO_ENDPOINTS = -2;
    static final int DENIED = -3;
    /**
     * ClientIP affinity cannot be decided yet: the pins (kept across restarts) are in the conntrack
     * maps, still opening just after a start ({@link ConntrackState#openAsync}); the caller resolves
     * again from {@link #whenConntrackOpen}.
     */
    static final int AWAIT_CONNTRACK = -4;

    /** How {@link #resolve} chose the first position ({@link Route#basis}). */
    static final int BY_AFFINITY_PIN = 1;
    static final int BY_AFFINITY_HASH = 2;
    static final int BY_SCHEDULER = 3;

    /**
     * The ClientIP pins new flows are checked against: the daemon's live affinity table, or a
     * read-only copy for {@code ferry explain} ({@link BackendChoice}), which must not touch them.
     */
    interface AffinityPins {
        /** True (out set) when the client has a live pin for the service port in key. */
        boolean lookup(AffinityKey key, long nowMillis, Endpoint out);
    }

    private final ServiceTableReader reader;
    private final String defaultAlgorithm;
    private final ConntrackState conntrack;
    private final Map<String, ServicePortMetrics> metrics = new ConcurrentHashMap<>();
    /** Backend connect latency of every service port, in µs (1 µs to 60 s, 3 digits). */
    private final ConcurrentHistogram connectLatency = new ConcurrentHistogram(1, 60_000_000L, 3);
    private volatile Long2ObjectHashMap<ServicePortBackends> byStamp = new Long2ObjectHashMap<>();
    /** Records whose state could not be built: stamp → "name: reason"; replaced by each refresh (writer thread). */
    private volatile Long2ObjectHashMap<String> skippedByStamp = new Long2ObjectHashMap<>();
    private final java.util.concurrent.atomic.AtomicLong skips = new java.util.concurrent.atomic.AtomicLong();
    private java.util.function.BiConsumer<String, String> skipListener = (name, why) -> { };
    /**
     * For {@link #refresh(TableChange)}: the record each service port's state was built (or skipped)
     * from; filled by a whole-table refresh once the router follows the change feed. Writer thread.
     */
    private final java.util.Map<ServicePortName, Long> stampByName = new java.util.HashMap<>();
    /** Whether {@link #stampByName} matches {@link #byStamp} and {@link #skippedByStamp}. Writer thread. */
    private boolean namesKnown;
    /** Set once the router follows the change feed: whole-table refreshes then also note the names. */
    private boolean trackNames;
    /** Bumped by every {@link #refresh()}: long-lived UDP flows re-check their endpoint when it moves. */
    private volatile long refreshes;
    private final FastThreadLocal<ServicePortView> views = new FastThreadLocal<>() {
        @Override
        protected ServicePortView initialValue() {
            return new ServicePortView();
        }
    };
    private final FastThreadLocal<AffinityKey> affinityKeys = new FastThreadLocal<>() {
        @Override
        protected AffinityKey initialValue() {
            return new AffinityKey();
        }
    };
    private final FastThreadLocal<Endpoint> endpoints = new FastThreadLocal<>() {
        @Override
        protected Endpoint initialValue() {
            return new Endpoint();
        }
    };

    /** What one resolution found; owned by one connection or flow. */
    static final class Route {
        ServicePortBackends backends;
        ServicePortBackends.Choice choice;
        boolean external;
        /** Position in {@code choice.endpoints} to try first. */
        int first;
        /** How {@code first} was chosen: {@link #BY_AFFINITY_PIN}, {@link #BY_AFFINITY_HASH} or {@link #BY_SCHEDULER}. */
        int basis;
        final ClientAddress client = new ClientAddress();
    }

    /** This node's addresses: a source range covering one also admits the LB IPs as sources. */
    private final java.util.List<java.net.InetAddress> nodeIps;

    Router(ServiceTableReader reader, String defaultAlgorithm, ConntrackState conntrack) {
        this(reader, defaultAlgorithm, conntrack, java.util.List.of());
    }

    Router(ServiceTableReader reader, String defaultAlgorithm, ConntrackState conntrack,
           java.util.List<java.net.InetAddress> nodeIps) {
        this(reader, defaultAlgorithm, conntrack, nodeIps,
                conntrack == null ? null : (k, now, out) -> conntrack.affinity().lookup(k, now, out));
    }

    /** pins: where ClientIP pins are read (null: none are kept, affinity hashes the client). */
    Router(ServiceTableReader reader, String defaultAlgorithm, ConntrackState conntrack,
           java.util.List<java.net.InetAddress> nodeIps, AffinityPins pins) {
        this.reader = reader;
        this.defaultAlgorithm = defaultAlgorithm;
        this.conntrack = conntrack;
        this.nodeIps = java.util.List.copyOf(nodeIps);
        this.pins = pins;
    }

    private final AffinityPins pins;

    /**
     * kube-proxy's allowFromNode: a node holding its LB's VIP reaches it with the VIP as source, which
     * the ranges admit when one covers a node IP. Only asked for a client the ranges refused, so the
     * heap copy of the service port is off the accepted path.
     */
    private boolean admitsOwnVip(ServicePortView view, ClientAddress c) {
        if (nodeIps.isEmpty()) {
            return false;
        }
        dev.ferry.model.ServicePort sp = view.toServicePort();
        return dev.ferry.select.TrafficVerdicts.sourceRangeAllows(sp.loadBalancerSourceRanges(), sp.loadBalancerIPs(),
                nodeIps, dev.ferry.table.AddressBits.toInetAddress(c.family, c.hi, c.lo));
    }

    ServiceTableReader reader() {
        return reader;
    }

    /** The conntrack tables when open; null when there are none or they are still opening ({@link #awaitingConntrack}). */
    ConntrackState conntrack() {
        return conntrack != null && conntrack.isOpen() ? conntrack : null;
    }

    /** True while the conntrack tables are opening: what needs them waits ({@link #whenConntrackOpen}). */
    boolean awaitingConntrack() {
        return conntrack != null && !conntrack.isOpen();
    }

    /** Runs {@code task} on {@code loop} once the conntrack tables are open. */
    void whenConntrackOpen(java.util.concurrent.Executor loop, Runnable task) {
        conntrack.whenOpen(loop, task);
    }

    Map<String, ServicePortMetrics> metrics() {
        return metrics;
    }

    ConcurrentHistogram connectLatency() {
        return connectLatency;
    }

    /**
     * Rebuilds the stamp → state map from the table (writer thread, after a sync). Records whose
     * stamp did not change keep their state and schedulers.
     */
    void refresh() {
        if (trackNames) {
            stampByName.clear();
        }
        Long2ObjectHashMap<ServicePortBackends> old = byStamp;
        Long2ObjectHashMap<String> oldSkipped = skippedByStamp;
        Map<String, ServicePortBackends> oldByName = new java.util.HashMap<>();
        old.values().forEach(b -> oldByName.put(b.name, b));
        Long2ObjectHashMap<ServicePortBackends> next = new Long2ObjectHashMap<>();
        Long2ObjectHashMap<String> skipped = new Long2ObjectHashMap<>();
        java.util.Set<String> live = new java.util.HashSet<>();
        reader.forEach(new ServicePortView(), v -> {
            if (trackNames) {
                stampByName.put(v.servicePortName(), v.stamp());
            }
            ServicePortBackends kept = old.get(v.stamp());
            if (kept != null) {
                next.put(v.stamp(), kept);
                live.add(kept.name);
                return;
            }
            String stillSkipped = oldSkipped.get(v.stamp());
            if (stillSkipped != null) {
                skipped.put(v.stamp(), stillSkipped); // the same record: no second attempt, report or count
                return;
            }
            String name = ServicePortBackends.nameOf(v);
            ServicePortBackends b;
            try {
                b = ServicePortBackends.build(v, defaultAlgorithm,
                        metrics.computeIfAbsent(name, n -> new ServicePortMetrics(n, connectLatency)), oldByName.get(name));
            } catch (RuntimeException e) {
                // One service port that cannot be served must not stop the others from converging.
                if (v.isValid()) {
                    String why = e.getMessage() == null ? e.toString() : e.getMessage();
                    skipped.put(v.stamp(), name + ": " + why);
                    skips.incrementAndGet();
                    skipListener.accept(name, why);
                }
                return;
            }
            live.add(name);
            if (v.isValid()) {
                next.put(v.stamp(), b);
            }
        });
        byStamp = next;
        skippedByStamp = skipped;
        refreshes++; // one writer thread
        // Counters of deleted service ports go (open connections keep updating their own copy).
        metrics.keySet().retainAll(live);
    }

    long refreshes() {
        return refreshes;
    }

    /**
     * As {@link #refresh()}, from the table's change feed: only the service ports {@code change}
     * names are looked up, and their state built again when their record changed; the others keep
     * theirs without a walk of the table. A full change (or none) walks the table as
     * {@link #refresh()} does. Writer thread.
     */
    void refresh(TableChange change) {
        trackNames = true;
        if (change == null || change.full() || !namesKnown) {
            refresh();
            namesKnown = true;
            return;
        }
        if (change.isEmpty()) {
            return;
        }
        Long2ObjectHashMap<ServicePortBackends> next = new Long2ObjectHashMap<>(byStamp);
        Long2ObjectHashMap<String> skipped = new Long2ObjectHashMap<>(skippedByStamp);
        java.util.Set<ServicePortName> names = new java.util.HashSet<>(change.changed());
        names.addAll(change.removed());
        ServicePortView v = new ServicePortView();
        for (ServicePortName n : names) {
            boolean found = reader.lookup(n.namespace(), n.name(), n.portName(), n.protocol(), v);
            Long had = stampByName.get(n);
            if (found && had != null && had == v.stamp()) {
                continue;
            }
            ServicePortBackends was = null;
            String wasSkipped = null;
            if (had != null) {
                was = next.remove(had.longValue());
                wasSkipped = skipped.remove(had.longValue());
                stampByName.remove(n);
            }
            if (!found) {
                // counters of a deleted service port go
                if (was != null) {
                    metrics.remove(was.name);
                } else if (wasSkipped != null) {
                    metrics.remove(wasSkipped.substring(0, Math.max(0, wasSkipped.indexOf(": "))));
                }
                continue;
            }
            long stamp = v.stamp();
            String name = ServicePortBackends.nameOf(v);
            try {
                ServicePortBackends b = ServicePortBackends.build(v, defaultAlgorithm,
                        metrics.computeIfAbsent(name, k -> new ServicePortMetrics(k, connectLatency)), was);
                if (v.isValid()) {
                    next.put(stamp, b);
                    stampByName.put(n, stamp);
                } else {
                    namesKnown = false; // rewritten under the build: the next refresh walks the table
                }
            } catch (RuntimeException e) {
                if (v.isValid()) {
                    String why = e.getMessage() == null ? e.toString() : e.getMessage();
                    skipped.put(stamp, name + ": " + why);
                    stampByName.put(n, stamp);
                    skips.incrementAndGet();
                    skipListener.accept(name, why);
                } else {
                    namesKnown = false;
                }
            }
        }
        byStamp = next;
        skippedByStamp = skipped;
        refreshes++; // one writer thread
    }

    /** Test hook: the stamps whose state is built, and those skipped (to compare two routers). */
    java.util.SortedSet<Long> builtStamps() {
        return new java.util.TreeSet<>(byStamp.keySet());
    }

    /** Whether the record with this stamp was skipped at the last refresh (its state could not be built). */
    boolean isSkipped(long stamp) {
        return skippedByStamp.containsKey(stamp);
    }

    /** The service ports skipped at the last refresh: name → reason. */
    Map<String, String> skipped() {
        Map<String, String> out = new java.util.TreeMap<>();
        for (String s : skippedByStamp.values()) {
            int colon = s.indexOf(": ");
            out.put(s.substring(0, colon), s.substring(colon + 2));
        }
        return out;
    }

    long skipCount() {
        return skips.get();
    }

    /** Told (writer thread) of each record skipped, once per record version; logs it by default. */
    void onSkipped(java.util.function.BiConsumer<String, String> listener) {
        skipListener = listener;
    }

    /**
     * The current state of the service port that serves {@code key}, or null when none does now;
     * for re-checking an existing flow, not for new connections.
     */
    ServicePortBackends current(FrontendKey key) {
        ServicePortView view = views.get();
        for (int attempt = 0; attempt < 2; attempt++) {
            if (!find(key, view)) {
                return null;
            }
            ServicePortBackends b = stateOf(view);
            if (view.isValid()) {
                return b; // null when it cannot be built: as if the service port were gone
            }
        }
        return null;
    }

    /**
     * The cached state of the record under {@code view}, or, when refresh() has not seen it yet, one
     * built uncached; null when it cannot be built (refresh() reports that).
     */
    private ServicePortBackends stateOf(ServicePortView view) {
        ServicePortBackends b = byStamp.get(view.stamp());
        if (b != null || skippedByStamp.containsKey(view.stamp())) {
            return b;
        }
        String name = ServicePortBackends.nameOf(view);
        try {
            return ServicePortBackends.build(view, defaultAlgorithm,
                    metrics.computeIfAbsent(name, n -> new ServicePortMetrics(n, connectLatency)), null);
        } catch (RuntimeException e) {
            return null;
        }
    }

    private boolean find(FrontendKey key, ServicePortView view) {
        return key.nodePort ? reader.lookupNodePort(key.protocol.ordinal(), key.port, view)
                : key.family == 4 ? reader.lookupIpv4(key.protocol.ordinal(), (int) key.lo, key.port, view)
                : reader.lookupIpv6(key.protocol.ordinal(), key.hi, key.lo, key.port, view);
    }

    /**
     * Resolves a new connection from {@code route.client} (set by the caller) to {@code key}.
     *
     * @return the position to try first (≥ 0, with {@code route} filled in), or {@link #NO_SERVICE},
     *     {@link #NO_ENDPOINTS}, {@link #DENIED} or {@link #AWAIT_CONNTRACK}
     */
    int resolve(FrontendKey key, Route route, int clientPort) {
        ServicePortView view = views.get();
        for (int attempt = 0; attempt < 2; attempt++) {
            if (!find(key, view)) {
                return NO_SERVICE;
            }
            int fi = view.matchedFrontend();
            int kind = view.frontendKind(fi).ordinal();
            boolean allowed = kind != FrontendKind.LOAD_BALANCER.ordinal()
                    || view.sourceAllowed(route.client.family, route.client.hi, route.client.lo)
                    || admitsOwnVip(view, route.client);
            ServicePortBackends b = stateOf(view);
            if (!view.isValid()) {
                continue;
            }
            if (b == null) {
                return NO_SERVICE; // its state cannot be built (refresh() reported why)
            }
            route.backends = b;
            if (!allowed) {
                b.metrics.deniedBySourceRange.increment();
                return DENIED;
            }
            route.external = kind != FrontendKind.CLUSTER_IP.ordinal();
            route.choice = b.choice(route.external);
            int n = route.choice.endpoints.length;
            if (n == 0) {
                return NO_ENDPOINTS;
            }
            route.first = firstPosition(b, route.choice, route, key);
            return route.first;
        }
        return NO_SERVICE;
    }

    /**
     * What {@link #resolve} does with a new flow from client to key, as {@code ferry explain} reports
     * it: the same lookup, source-range check, candidate set and first pick (one code path).
     */
    BackendChoice explain(FrontendKey key, java.net.InetAddress client) {
        Route route = new Route();
        route.client.set(client);
        int r = resolve(key, route, 0);
        ServicePortBackends b = route.backends;
        String name = b == null ? null : b.name;
        if (r == NO_SERVICE) {
            return new BackendChoice(BackendChoice.Outcome.NO_SERVICE, name, false, java.util.List.of(), -1, BackendChoice.Basis.NONE, null);
        }
        if (r == DENIED) {
            return new BackendChoice(BackendChoice.Outcome.DENIED, name, false, java.util.List.of(), -1, BackendChoice.Basis.NONE, null);
        }
        java.util.List<java.net.InetSocketAddress> candidates = new java.util.ArrayList<>(route.choice.endpoints.length);
        for (int i : route.choice.endpoints) {
            candidates.add(b.addresses[i]);
        }
        dev.ferry.lb.Algorithm algorithm = route.choice.scheduler.algorithm();
        if (r == NO_ENDPOINTS) {
            return new BackendChoice(BackendChoice.Outcome.NO_ENDPOINTS, name, route.external, candidates, -1,
                    BackendChoice.Basis.NONE, algorithm);
        }
        if (r == AWAIT_CONNTRACK) {
            return new BackendChoice(BackendChoice.Outcome.FORWARD, name, route.external, candidates, -1,
                    BackendChoice.Basis.AWAITING_PINS, algorithm);
        }
        BackendChoice.Basis basis = switch (route.basis) {
            case BY_AFFINITY_PIN -> BackendChoice.Basis.AFFINITY_PIN;
            case BY_AFFINITY_HASH -> BackendChoice.Basis.AFFINITY_HASH;
            default -> algorithm.picksByHash() ? BackendChoice.Basis.HASH : BackendChoice.Basis.PER_CONNECTION;
        };
        // A per-connection scheduler's pick here used this Router's fresh turn or counts, not the daemon's.
        int first = basis == BackendChoice.Basis.PER_CONNECTION ? -1 : r;
        return new BackendChoice(BackendChoice.Outcome.FORWARD, name, route.external, candidates, first, basis, algorithm);
    }

    private int firstPosition(ServicePortBackends b, ServicePortBackends.Choice choice, Route route, FrontendKey key) {
        int n = choice.endpoints.length;
        ClientAddress client = route.client;
        if (b.clientIpAffinity) {
            if (pins != null) {
                if (conntrack != null && !conntrack.isOpen()) {
                    return AWAIT_CONNTRACK; // a hash pick could contradict the client's recorded pin
                }
                AffinityKey ak = affinityKeys.get();
                setClient(ak, client).servicePortId(b.affinityId);
                Endpoint ep = endpoints.get();
                if (pins.lookup(ak, System.currentTimeMillis(), ep)) {
                    int pos = positionOf(b, choice, ep);
                    if (pos >= 0) {
                        route.basis = BY_AFFINITY_PIN;
                        return pos;
                    }
                }
            } else {
                route.basis = BY_AFFINITY_HASH;
                return (int) Long.remainderUnsigned(FlowHash.mix(client.hash() ^ b.affinityId), n);
            }
        }
        route.basis = BY_SCHEDULER;
        long dst = key.family == 4 ? FlowHash.ipv4((int) key.lo) : FlowHash.ipv6(key.hi, key.lo);
        int pick = choice.scheduler.pick(client.hash(), dst);
        return pick == Scheduler.NO_BACKEND ? 0 : pick;
    }

    /** Pins the client to the backend at {@code pos} (after a successful connect). */
    void recordAffinity(Route route, int pos) {
        ServicePortBackends b = route.backends;
        if (!b.clientIpAffinity || conntrack == null || !conntrack.isOpen()) {
            return;
        }
        AffinityKey ak = affinityKeys.get();
        setClient(ak, route.client).servicePortId(b.affinityId);
        conntrack.affinity().record(ak, endpointOf(b, route.choice.endpoints[pos]), System.currentTimeMillis(),
                b.affinityTimeoutMillis);
    }

    /** The conntrack flyweight (this thread's) for table endpoint {@code index}. */
    Endpoint endpointOf(ServicePortBackends b, int index) {
        Endpoint ep = endpoints.get();
        if (b.isIpv4[index]) {
            ep.ipv4(b.ipv4[index]);
        } else {
            ep.ip(b.addresses[index].getAddress());
        }
        return ep.port(b.addresses[index].getPort());
    }

    static int positionOf(ServicePortBackends b, ServicePortBackends.Choice choice, Endpoint ep) {
        for (int p = 0; p < choice.endpoints.length; p++) {
            int i = choice.endpoints[p];
            if (b.addresses[i].getPort() != ep.port()) {
                continue;
            }
            if (b.isIpv4[i] ? ep.isIpv4() && ep.ipv4() == b.ipv4[i]
                    : !ep.isIpv4() && ep.toInetAddress().equals(b.addresses[i].getAddress())) {
                return p;
            }
        }
        return -1;
    }

    private static AffinityKey setClient(AffinityKey ak, ClientAddress c) {
        if (c.family == 4) {
            return ak.clientIpv4((int) c.lo);
        }
        byte[] b = new byte[16];
        for (int i = 0; i < 8; i++) {
            b[i] = (byte) (c.hi >>> (56 - 8 * i));
            b[i + 8] = (byte) (c.lo >>> (56 - 8 * i));
        }
        return ak.clientIp(b, 0, 16);
    }
}
