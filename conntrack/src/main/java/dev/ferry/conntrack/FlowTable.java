package dev.ferry.conntrack;

import java.util.function.BiConsumer;
import net.openhft.chronicle.map.ChronicleMap;

/**
 * UDP flows of the userspace proxy: which backend a client's datagrams to a frontend go to, so a
 * flow keeps its backend for as long as it is active and survives a daemon restart (kube-proxy's
 * restart forgets them, kubernetes#122740). Entries die after the protocol's idle timeout; a full
 * table evicts instead of failing.
 *
 * <p>Thread-safe; the {@link FlowKey} and {@link Flow} flyweights passed in belong to the calling
 * thread. {@link #lookup} and {@link #record} allocate nothing once warm.
 */
public final class FlowTable extends BoundedTable {
    /** lastSeen is rewritten at most this often per flow: a write per datagram would double the cost. */
    static final long TOUCH_GRANULARITY_MILLIS = 1000;

    private final long udpIdleMillis;
    private final long tcpIdleMillis;
    private final long otherIdleMillis;
    private final ThreadLocal<Flow> scratch = ThreadLocal.withInitial(Flow::new);

    FlowTable(ChronicleMap<byte[], byte[]> map, ConntrackConfig config) {
        super(map, config.maxFlows(), FlowKey.SIZE, Flow.SIZE);
        this.udpIdleMillis = config.udpIdleTimeout().toMillis();
        this.tcpIdleMillis = config.tcpIdleTimeout().toMillis();
        this.otherIdleMillis = config.otherIdleTimeout().toMillis();
    }

    public long idleTimeoutMillis(int protocol) {
        return protocol == FlowKey.PROTO_UDP ? udpIdleMillis
                : protocol == FlowKey.PROTO_TCP ? tcpIdleMillis : otherIdleMillis;
    }

    @Override
    long deadline(byte[] key, byte[] value) {
        return Bytes16.getLong(value, Flow.LAST_SEEN) + idleTimeoutMillis(key[FlowKey.PROTOCOL] & 0xff);
    }

    /**
     * Finds a live flow and marks it seen at {@code nowMillis}. An idle-expired entry is removed and
     * reported as absent, so the caller picks a backend afresh.
     *
     * @return true and {@code out} filled in, or false (and {@code out} undefined)
     */
    public boolean lookup(FlowKey key, long nowMillis, Flow out) {
        if (!get(key.bytes, out.bytes)) {
            return false;
        }
        long lastSeen = out.lastSeenMillis();
        if (lastSeen + idleTimeoutMillis(key.protocol()) <= nowMillis) {
            if (removeIfSame(key.bytes, out.bytes)) {
                countExpiration();
            }
            return false;
        }
        if (nowMillis - lastSeen >= TOUCH_GRANULARITY_MILLIS) {
            out.lastSeenMillis(nowMillis);
            put(key.bytes, out.bytes, nowMillis);
        }
        return true;
    }

    /** Records a new flow (or a new backend for it): created and last seen are {@code nowMillis}. */
    public void record(FlowKey key, Endpoint backend, long nowMillis) {
        Flow f = scratch.get();
        f.set(backend, nowMillis, nowMillis);
        put(key.bytes, f.bytes, nowMillis);
    }

    public boolean remove(FlowKey key) {
        return removeKey(key.bytes);
    }

    /** Visits every flow with fresh flyweights per call (cold path: dump and tests). */
    public void forEach(BiConsumer<FlowKey, Flow> visitor) {
        FlowKey k = new FlowKey();
        Flow f = new Flow();
        forEachRaw((key, value) -> {
            System.arraycopy(key, 0, k.bytes, 0, FlowKey.SIZE);
            System.arraycopy(value, 0, f.bytes, 0, Flow.SIZE);
            visitor.accept(k, f);
        });
    }
}
