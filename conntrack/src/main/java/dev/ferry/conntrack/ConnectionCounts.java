package dev.ferry.conntrack;

import java.util.concurrent.atomic.AtomicLong;
import java.util.function.ObjLongConsumer;
import net.openhft.chronicle.map.ChronicleMap;
import net.openhft.chronicle.map.ExternalMapQueryContext;
import net.openhft.chronicle.map.MapEntry;

/**
 * Live TCP connection counts per backend, the input of least-connections scheduling. Off-heap so
 * that {@code ferry dump} sees them; reset when the daemon opens the table, because the proxied
 * connections they counted died with the previous process. A backend whose count drops to zero
 * leaves the table, so it holds only backends with open connections.
 *
 * <p>Thread-safe (increment/decrement are atomic per backend under Chronicle's segment lock);
 * allocates nothing once warm.
 */
public final class ConnectionCounts implements AutoCloseable {
    static final int VALUE_SIZE = 8;

    private final ChronicleMap<byte[], byte[]> map;
    private final ThreadLocal<byte[]> scratch = ThreadLocal.withInitial(() -> new byte[VALUE_SIZE]);
    private final AtomicLong dropped = new AtomicLong();

    ConnectionCounts(ChronicleMap<byte[], byte[]> map) {
        this.map = map;
    }

    public long increment(Endpoint backend) {
        return add(backend, 1);
    }

    /** Never goes below zero (a decrement without its increment is a caller bug, not worth a crash). */
    public long decrement(Endpoint backend) {
        return add(backend, -1);
    }

    public long count(Endpoint backend) {
        byte[] v = scratch.get();
        return map.getUsing(backend.bytes, v) == null ? 0 : Bytes16.getLong(v, 0);
    }

    private long add(Endpoint backend, long delta) {
        byte[] v = scratch.get();
        try (ExternalMapQueryContext<byte[], byte[], ?> c = map.queryContext(backend.bytes)) {
            c.updateLock().lock();
            MapEntry<byte[], byte[]> e = c.entry();
            long next = Math.max(0, (e == null ? 0 : Bytes16.getLong(e.value().getUsing(v), 0)) + delta);
            if (next == 0) {
                if (e != null) {
                    c.remove(e);
                }
                return 0;
            }
            Bytes16.putLong(v, 0, next);
            if (e == null) {
                c.insert(c.absentEntry(), c.wrapValueAsData(v));
            } else {
                c.replaceValue(e, c.wrapValueAsData(v));
            }
            return next;
        } catch (IllegalStateException full) {
            dropped.incrementAndGet();
            return 0;
        }
    }

    /** Increments refused because the table was full (more backends with connections than configured). */
    public long dropped() {
        return dropped.get();
    }

    public long backends() {
        return map.longSize();
    }

    /** Visits each backend with its count (fresh flyweight; cold path). */
    public void forEach(ObjLongConsumer<Endpoint> visitor) {
        Endpoint ep = new Endpoint();
        byte[] v = new byte[VALUE_SIZE];
        map.forEachEntry(e -> {
            e.key().getUsing(ep.bytes);
            e.value().getUsing(v);
            visitor.accept(ep, Bytes16.getLong(v, 0));
        });
    }

    void clear() {
        map.clear();
    }

    @Override
    public void close() {
        map.close();
    }
}
