package dev.ferry.conntrack;

import net.openhft.chronicle.map.ChronicleMap;

/**
 * ClientIP session affinity (Service {@code sessionAffinity: ClientIP}): the backend a client was
 * sent to, kept while the client keeps coming back within the timeout. As with kube-proxy's
 * iptables {@code recent} match and IPVS persistence, each use restarts the timeout. Survives a
 * daemon restart.
 *
 * <p>Thread-safe; flyweights passed in belong to the calling thread. Lookups allocate nothing once warm.
 */
public final class AffinityTable extends BoundedTable {
    /** kube-proxy's default sessionAffinityConfig.clientIP.timeoutSeconds (3 h). */
    public static final long DEFAULT_TIMEOUT_MILLIS = 10_800_000L;

    static final int BACKEND = 0;
    static final int LAST_USED = 18;
    static final int TIMEOUT = 26;
    static final int VALUE_SIZE = 34;

    private final long defaultTimeoutMillis;
    private final ThreadLocal<byte[]> scratch = ThreadLocal.withInitial(() -> new byte[VALUE_SIZE]);

    AffinityTable(ChronicleMap<byte[], byte[]> map, ConntrackConfig config) {
        super(map, config.maxAffinities(), AffinityKey.SIZE, VALUE_SIZE);
        this.defaultTimeoutMillis = config.affinityTimeout().toMillis();
    }

    @Override
    long deadline(byte[] key, byte[] value) {
        return Bytes16.getLong(value, LAST_USED) + Bytes16.getLong(value, TIMEOUT);
    }

    /**
     * The client's backend for this service port if it was used less than its timeout ago; the use
     * restarts the timeout. An expired entry is removed and reported absent.
     */
    public boolean lookup(AffinityKey key, long nowMillis, Endpoint out) {
        byte[] v = scratch.get();
        if (!get(key.bytes, v)) {
            return false;
        }
        long lastUsed = Bytes16.getLong(v, LAST_USED);
        if (lastUsed + Bytes16.getLong(v, TIMEOUT) <= nowMillis) {
            if (removeIfSame(key.bytes, v)) {
                countExpiration();
            }
            return false;
        }
        out.readFrom(v, BACKEND);
        if (nowMillis - lastUsed >= FlowTable.TOUCH_GRANULARITY_MILLIS) {
            Bytes16.putLong(v, LAST_USED, nowMillis);
            put(key.bytes, v, nowMillis);
        }
        return true;
    }

    /** Pins the client to {@code backend} with the table's default timeout. */
    public void record(AffinityKey key, Endpoint backend, long nowMillis) {
        record(key, backend, nowMillis, defaultTimeoutMillis);
    }

    /** Pins the client to {@code backend} for {@code timeoutMillis} (the Service's timeoutSeconds × 1000). */
    public void record(AffinityKey key, Endpoint backend, long nowMillis, long timeoutMillis) {
        if (timeoutMillis <= 0) {
            throw new IllegalArgumentException("affinity timeout must be positive, got " + timeoutMillis + " ms");
        }
        byte[] v = scratch.get();
        backend.writeTo(v, BACKEND);
        Bytes16.putLong(v, LAST_USED, nowMillis);
        Bytes16.putLong(v, TIMEOUT, timeoutMillis);
        put(key.bytes, v, nowMillis);
    }

    public boolean remove(AffinityKey key) {
        return removeKey(key.bytes);
    }
}
