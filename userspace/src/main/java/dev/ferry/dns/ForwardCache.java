package dev.ferry.dns;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A bounded cache of upstream responses, keyed by question (name in lower case, type, class), kept
 * for the smallest TTL in the response (capped), served with TTLs counted down and the client's
 * message id. Least recently used entries are evicted beyond {@code maxEntries}; responses larger
 * than {@link #MAX_RESPONSE_BYTES} are not cached, so memory stays below their product.
 *
 * <p>Thread-safe (one lock; entries are immutable).
 */
final class ForwardCache {
    static final int MAX_RESPONSE_BYTES = 4096;

    private record Key(String name, int type, int dnsClass) { }

    private record Entry(byte[] response, int[] ttlOffsets, long storedNanos, long expiresNanos) { }

    private final int maxEntries;
    private final int maxTtlSeconds;
    private final Map<Key, Entry> entries;
    private long hits;
    private long misses;

    ForwardCache(int maxEntries, int maxTtlSeconds) {
        this.maxEntries = maxEntries;
        this.maxTtlSeconds = maxTtlSeconds;
        this.entries = new LinkedHashMap<>(16, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<Key, Entry> eldest) {
                return size() > ForwardCache.this.maxEntries;
            }
        };
    }

    /** A copy of the cached response for this question with the given id, or null. */
    synchronized byte[] get(String name, int type, int dnsClass, int id, long nowNanos) {
        Key key = new Key(name, type, dnsClass);
        Entry e = entries.get(key);
        if (e == null || nowNanos - e.expiresNanos >= 0) {
            if (e != null) entries.remove(key);
            misses++;
            return null;
        }
        hits++;
        byte[] out = e.response.clone();
        out[0] = (byte) (id >>> 8);
        out[1] = (byte) id;
        long elapsed = (nowNanos - e.storedNanos) / 1_000_000_000L;
        for (int at : e.ttlOffsets) {
            long ttl = readInt(out, at) & 0xFFFFFFFFL;
            writeInt(out, at, (int) Math.max(0, ttl - elapsed));
        }
        return out;
    }

    /** Caches a NOERROR or NXDOMAIN response that is not truncated; ignores anything else. */
    synchronized void put(String name, int type, int dnsClass, byte[] response, long nowNanos) {
        if (maxEntries == 0 || response.length > MAX_RESPONSE_BYTES) return;
        WireScan scan = WireScan.of(response);
        if (scan == null || scan.truncated() || (scan.rcode() != 0 && scan.rcode() != 3) || scan.ttlOffsets().length == 0) {
            return;
        }
        long ttl = Math.min(scan.minTtl(), maxTtlSeconds);
        if (ttl <= 0) return;
        entries.put(new Key(name, type, dnsClass),
                new Entry(response.clone(), scan.ttlOffsets(), nowNanos, nowNanos + ttl * 1_000_000_000L));
    }

    synchronized int size() {
        return entries.size();
    }

    synchronized long hits() {
        return hits;
    }

    synchronized long misses() {
        return misses;
    }

    static int readInt(byte[] b, int at) {
        return ((b[at] & 0xff) << 24) | ((b[at + 1] & 0xff) << 16) | ((b[at + 2] & 0xff) << 8) | (b[at + 3] & 0xff);
    }

    static void writeInt(byte[] b, int at, int v) {
        b[at] = (byte) (v >>> 24);
        b[at + 1] = (byte) (v >>> 16);
        b[at + 2] = (byte) (v >>> 8);
        b[at + 3] = (byte) v;
    }
}
