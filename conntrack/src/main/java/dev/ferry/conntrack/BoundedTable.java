package dev.ferry.conntrack;

import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import net.openhft.chronicle.hash.Data;
import net.openhft.chronicle.map.ChronicleMap;
import net.openhft.chronicle.map.ExternalMapQueryContext;
import net.openhft.chronicle.map.MapEntry;
import net.openhft.chronicle.map.MapSegmentContext;

/**
 * A Chronicle Map of fixed-size byte[] keys and values with a soft entry limit, eviction of the
 * entry closest to its deadline when full, and incremental expiry by segment. The subclasses only
 * say where the deadline lives in a value.
 *
 * <p>Thread-safe: lookups and stores go straight to Chronicle's per-segment locks; eviction and
 * expiry sweeps are serialised on one monitor (they are rare and bounded). The entry counter is
 * exact for one writing process, which is Ferry's model (the daemon writes, {@code dump} reads).
 */
abstract class BoundedTable implements AutoCloseable {
    private final ChronicleMap<byte[], byte[]> map;
    private final long maxEntries;
    private final int valueSize;
    private final AtomicLong entries;
    private final AtomicLong evictions = new AtomicLong();
    private final AtomicLong expirations = new AtomicLong();
    private final AtomicLong dropped = new AtomicLong();
    private final Sweep sweep;

    BoundedTable(ChronicleMap<byte[], byte[]> map, long maxEntries, int keySize, int valueSize) {
        this.map = map;
        this.maxEntries = maxEntries;
        this.valueSize = valueSize;
        this.entries = new AtomicLong(map.longSize());
        this.sweep = new Sweep(keySize, valueSize);
    }

    /** Epoch millis at which the entry is dead. */
    abstract long deadline(byte[] key, byte[] value);

    /** Copies the value into {@code out}; false when the key is absent. Allocates nothing once warm. */
    final boolean get(byte[] key, byte[] out) {
        return map.getUsing(key, out) != null;
    }

    /**
     * Inserts or replaces. When the table is at its limit and the key is new, first removes expired
     * entries or else evicts the one nearest its deadline. Never throws for a full table: if Chronicle
     * still refuses (a segment overflowed its tiers) the entry is dropped and counted.
     */
    final void put(byte[] key, byte[] value, long nowMillis) {
        if (store(key, value, entries.get() < maxEntries)) {
            return;
        }
        synchronized (sweep) {
            sweep.evictOne(nowMillis);
        }
        if (!store(key, value, true)) {
            dropped.incrementAndGet();
        }
    }

    /** @return false when the key was new and could not be inserted (limit reached or segment full). */
    private boolean store(byte[] key, byte[] value, boolean mayInsert) {
        try (ExternalMapQueryContext<byte[], byte[], ?> c = map.queryContext(key)) {
            c.updateLock().lock();
            MapEntry<byte[], byte[]> e = c.entry();
            if (e != null) {
                c.replaceValue(e, c.wrapValueAsData(value));
                return true;
            }
            if (!mayInsert) {
                return false;
            }
            c.insert(c.absentEntry(), c.wrapValueAsData(value));
            entries.incrementAndGet();
            return true;
        } catch (IllegalStateException segmentFull) {
            // Chronicle's "segment is full / no more tiers": treat as full, never surface to the proxy.
            return false;
        }
    }

    /** Removes the key only if it still holds {@code expected}, so a concurrent refresh wins. */
    final boolean removeIfSame(byte[] key, byte[] expected) {
        boolean removed = map.remove(key, expected);
        if (removed) {
            entries.decrementAndGet();
        }
        return removed;
    }

    final boolean removeKey(byte[] key) {
        try (ExternalMapQueryContext<byte[], byte[], ?> c = map.queryContext(key)) {
            c.updateLock().lock();
            MapEntry<byte[], byte[]> e = c.entry();
            if (e == null) {
                return false;
            }
            c.remove(e);
            entries.decrementAndGet();
            return true;
        }
    }

    final void countExpiration() {
        expirations.incrementAndGet();
    }

    /**
     * Removes expired entries, walking whole segments in turn from where the last call stopped until
     * about {@code budget} entries have been looked at (at least one segment). The daemon calls this
     * periodically; the cost of a call is bounded by the budget, not by the table size.
     *
     * @return the number of entries removed
     */
    public final int expireSome(long nowMillis, int budget) {
        synchronized (sweep) {
            return sweep.expire(nowMillis, budget);
        }
    }

    /** Visits every entry (raw key and value bytes, copies owned by the visitor for the call only). */
    final void forEachRaw(RawVisitor visitor) {
        byte[] k = new byte[sweep.key.length];
        byte[] v = new byte[valueSize];
        map.forEachEntry(e -> {
            e.key().getUsing(k);
            e.value().getUsing(v);
            visitor.visit(k, v);
        });
    }

    interface RawVisitor {
        void visit(byte[] key, byte[] value);
    }

    public final long entries() {
        return entries.get();
    }

    public final long maxEntries() {
        return maxEntries;
    }

    /** Entries removed to make room for a new one while the table was full. */
    public final long evictions() {
        return evictions.get();
    }

    /** Entries removed because their idle timeout passed (by lookup or by {@link #expireSome}). */
    public final long expirations() {
        return expirations.get();
    }

    /** New entries refused because Chronicle had no room even after an eviction (should stay 0). */
    public final long dropped() {
        return dropped.get();
    }

    final ChronicleMap<byte[], byte[]> map() {
        return map;
    }

    @Override
    public void close() {
        map.close();
    }

    /** Mutable sweep state, used only under its own monitor. */
    private final class Sweep implements Consumer<MapEntry<byte[], byte[]>> {
        final byte[] key;
        final byte[] value;
        final byte[] victim;
        int cursor;
        long now;
        int removed;
        int visited;
        boolean trackVictim;
        boolean haveVictim;
        long victimDeadline;

        Sweep(int keySize, int valueSize) {
            key = new byte[keySize];
            value = new byte[valueSize];
            victim = new byte[keySize];
        }

        @Override
        public void accept(MapEntry<byte[], byte[]> e) {
            visited++;
            e.key().getUsing(key);
            Data<byte[]> v = e.value();
            v.getUsing(value);
            long d = deadline(key, value);
            if (d <= now) {
                e.doRemove();
                removed++;
                return;
            }
            if (trackVictim && (!haveVictim || d < victimDeadline)) {
                e.key().getUsing(victim);
                victimDeadline = d;
                haveVictim = true;
            }
        }

        private void walkSegment(int segment) {
            try (MapSegmentContext<byte[], byte[], ?> c = map.segmentContext(segment)) {
                // Segment iteration holds the segment's update lock, so doRemove() inside is allowed.
                c.forEachSegmentEntry(this);
            }
        }

        private int nextSegment() {
            int s = cursor;
            cursor = (cursor + 1) % map.segments();
            return s;
        }

        int expire(long nowMillis, int budget) {
            now = nowMillis;
            removed = 0;
            visited = 0;
            trackVictim = false;
            int segments = map.segments();
            for (int n = 0; n < segments && (n == 0 || visited < budget); n++) {
                walkSegment(nextSegment());
            }
            account(removed, 0);
            return removed;
        }

        /** Frees one slot: prefers expired entries, else the entry of one segment nearest its deadline. */
        void evictOne(long nowMillis) {
            now = nowMillis;
            int segments = map.segments();
            for (int n = 0; n < segments; n++) {
                removed = 0;
                trackVictim = true;
                haveVictim = false;
                walkSegment(nextSegment());
                if (removed > 0) {
                    account(removed, 0);
                    return;
                }
                if (haveVictim && map.remove(victim) != null) {
                    account(0, 1);
                    return;
                }
            }
        }

        private void account(int expired, int evicted) {
            entries.addAndGet(-(expired + evicted));
            expirations.addAndGet(expired);
            evictions.addAndGet(evicted);
        }
    }
}
