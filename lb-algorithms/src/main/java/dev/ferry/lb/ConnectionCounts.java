package dev.ferry.lb;

import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicIntegerArray;

/**
 * Live connection counts per backend index, which feed {@code lc}, {@code wlc} and {@code p2c}.
 *
 * <p>The caller reports each connection it opens to a backend and each one that closes, against the
 * same {@code ConnectionCounts} it picked with. Thread-safe and lock-free: any thread may report and
 * any thread may read. Counts are dense ints: a scan over 1000 backends reads 4 KB, and the cost is
 * that neighbouring counters share cache lines between the threads that update them.
 */
public final class ConnectionCounts {
    private final AtomicIntegerArray counts;

    public ConnectionCounts(int backends) {
        counts = new AtomicIntegerArray(backends);
    }

    /** Counts sized for {@code backends}, all zero. */
    public static ConnectionCounts forBackends(Backends backends) {
        return new ConnectionCounts(backends.size());
    }

    /**
     * New counts for the backend set {@code to}, starting from the live counts of the backends that
     * {@code from} and {@code to} share (matched by name). Connections still open on the old set should
     * go on being reported to the old counts; the copy is a snapshot that keeps least-connections from
     * treating surviving backends as idle after every endpoint change. Cold path.
     */
    public static ConnectionCounts carriedOver(ConnectionCounts previous, Backends from, Backends to) {
        ConnectionCounts next = new ConnectionCounts(to.size());
        Map<String, Integer> oldIndex = new HashMap<>();
        for (int i = 0; i < from.size(); i++) {
            oldIndex.put(from.name(i), i);
        }
        for (int i = 0; i < to.size(); i++) {
            int old = oldIndex.getOrDefault(to.name(i), -1);
            if (old >= 0 && old < previous.size()) {
                next.counts.set(i, previous.get(old));
            }
        }
        return next;
    }

    public void opened(int backend) {
        counts.getAndIncrement(backend);
    }

    /** Never goes below zero, so a duplicate close report cannot make a backend look better than idle. */
    public void closed(int backend) {
        int c;
        do {
            c = counts.get(backend);
            if (c == 0) {
                return;
            }
        } while (!counts.weakCompareAndSetVolatile(backend, c, c - 1));
    }

    public int get(int backend) {
        return counts.get(backend);
    }

    /**
     * The pick path's read: opaque (never cached across picks, but no ordering fence), because a
     * scan that races with updates is as good as a volatile one.
     */
    int getOpaque(int backend) {
        return counts.getOpaque(backend);
    }

    public int size() {
        return counts.length();
    }
}
