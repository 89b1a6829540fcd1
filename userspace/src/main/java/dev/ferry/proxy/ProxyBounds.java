package dev.ferry.proxy;

import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the userspace proxy holds against its {@link ProxyLimits}: UDP flows, TCP connections and
 * listening sockets in use (with their peaks), and every time a bound was hit — work refused, or
 * a UDP flow evicted to make room — counted by reason and logged at most once per reason every
 * ten seconds. When a bound is hit only the new work is refused; what is already relayed goes on.
 *
 * <p>Thread-safe: event loops take and give back flows and connections; the table writer thread
 * listeners; any thread reads.
 */
public final class ProxyBounds {
    private static final Logger LOG = LoggerFactory.getLogger(ProxyBounds.class);

    /** Why new work was refused. */
    public enum Refusal {
        /** A new UDP flow while all flows were taken and its frontend had none to evict. */
        UDP_FLOWS("udp_flows"),
        /** A TCP connection accepted and reset while the connection bound was reached. */
        CONNECTIONS("connections"),
        /** A frontend not listened on: the listener budget (or the Service's half of it) was spent. */
        LISTENERS("listeners"),
        /** The kernel failed an accept (EMFILE, ENFILE, ENOBUFS...); the listener pauses a second. */
        ACCEPT_ERROR("accept_error");

        public final String label;

        Refusal(String label) {
            this.label = label;
        }
    }

    /** Why a live UDP flow was closed before its idle timeout. */
    public enum Eviction {
        /** Its client had reached the per-client bound on that frontend and opened another flow. */
        UDP_PER_CLIENT("udp_flows_per_client"),
        /** All flows were taken and a new one came to its frontend. */
        UDP_GLOBAL("udp_flows");

        public final String label;

        Eviction(String label) {
            this.label = label;
        }
    }

    private final ProxyLimits limits;
    private final AtomicInteger udpFlows = new AtomicInteger();
    private final AtomicInteger udpFlowsPeak = new AtomicInteger();
    private final AtomicInteger connections = new AtomicInteger();
    private final AtomicInteger connectionsPeak = new AtomicInteger();
    private volatile int listenerSockets;
    private final Map<Refusal, LongAdder> refused = new EnumMap<>(Refusal.class);
    private final Map<Eviction, LongAdder> evicted = new EnumMap<>(Eviction.class);
    private final RateLimitedLog log;

    ProxyBounds(ProxyLimits limits, RateLimitedLog log) {
        this.limits = limits;
        this.log = log;
        for (Refusal r : Refusal.values()) {
            refused.put(r, new LongAdder());
        }
        for (Eviction e : Eviction.values()) {
            evicted.put(e, new LongAdder());
        }
    }

    ProxyBounds(ProxyLimits limits) {
        this(limits, new RateLimitedLog(LOG));
    }

    public ProxyLimits limits() {
        return limits;
    }

    /** Takes a UDP flow slot; false when all are taken (nothing taken then). */
    boolean tryOpenUdpFlow() {
        return tryTake(udpFlows, udpFlowsPeak, limits.udpFlows());
    }

    void udpFlowClosed() {
        udpFlows.decrementAndGet();
    }

    /** Takes a TCP connection slot; false when all are taken (nothing taken then). */
    boolean tryOpenConnection() {
        return tryTake(connections, connectionsPeak, limits.connections());
    }

    void connectionClosed() {
        connections.decrementAndGet();
    }

    private static boolean tryTake(AtomicInteger inUse, AtomicInteger peak, int max) {
        int n;
        do {
            n = inUse.get();
            if (n >= max) {
                return false;
            }
        } while (!inUse.compareAndSet(n, n + 1));
        if (n + 1 > peak.get()) {
            peak.accumulateAndGet(n + 1, Math::max);
        }
        return true;
    }

    void listenerSockets(int n) {
        listenerSockets = n;
    }

    /** Counts a refusal and logs it (rate-limited per reason); {@code detail} is an SLF4J pattern. */
    void refused(Refusal why, long count, String detail, Object... args) {
        refused.get(why).add(count);
        log.warn(why.label, detail, args);
    }

    /** Counts an eviction and logs it (rate-limited per reason). */
    void evicted(Eviction why, String detail, Object... args) {
        evicted.get(why).increment();
        log.warn("evicted " + why.label, detail, args);
    }

    /** Rate-limited warning for a failure that is not a bound (e.g. a sweep that threw). */
    void warn(String reason, String detail, Object... args) {
        log.warn(reason, detail, args);
    }

    public long refusals(Refusal why) {
        return refused.get(why).sum();
    }

    public long evictions(Eviction why) {
        return evicted.get(why).sum();
    }

    public int udpFlows() {
        return udpFlows.get();
    }

    /** The most UDP flows open at once since start. */
    public int udpFlowsPeak() {
        return udpFlowsPeak.get();
    }

    public int connections() {
        return connections.get();
    }

    public int connectionsPeak() {
        return connectionsPeak.get();
    }

    public int listenerSockets() {
        return listenerSockets;
    }
}
