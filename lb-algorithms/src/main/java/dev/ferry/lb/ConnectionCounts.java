package dev.ferry.lb;

import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicIntegerArray;

/**
 * Live connection counts per backend index, which feed {@code lc}, {@code wlc} and {@code p2c}.
 *
 * <p>The caller reports each connection it opens to a backend and each one that closes, against the
 * same {@code ConnectionCounts} it picked with. Thread-safe: any thread may report and any thread may
 * read. Reads are lock-free; reports are too unless an {@code lc}/{@code wlc} scheduler has been built
 * on these counts, in which case each report also updates that scheduler's sorted index under the
 * index's lock (O(log backends); see {@link LeastConnections}). Counts are dense ints: a scan over 1000 backends reads 4 KB, and the cost is
 * that neighbouring counters share cache lines between the threads that update them.
 */
public final class ConnectionCounts {
    private static final LeastLoadedIndex[] NO_INDEXES = new LeastLoadedIndex[0];

    private final AtomicIntegerArray counts;
    /**
     * The least-connections indexes built over these counts (one per distinct weighting, usually
     * none or one), each kept in step by {@link #opened} and {@link #closed}. Copy on write.
     */
    private volatile LeastLoadedIndex[] indexes = NO_INDEXES;

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

    /**
     * Counts a connection opened to {@code backend}. With a {@code lc}/{@code wlc} scheduler on these
     * counts, also moves the backend in its sorted index: O(log backends) under that index's lock
     * (the pick itself takes none).
     */
    public void opened(int backend) {
        counts.getAndIncrement(backend);
        reconcile(backend);
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
        reconcile(backend);
    }

    private void reconcile(int backend) {
        for (LeastLoadedIndex index : indexes) {
            index.reconcile(backend);
        }
    }

    /**
     * The index sorted by load under these weights, built on first use and then kept up to date by
     * every open and close. Cold path (once per scheduler build).
     */
    LeastLoadedIndex leastLoadedIndex(int[] weights, boolean uniform) {
        LeastLoadedIndex created;
        synchronized (this) {
            for (LeastLoadedIndex index : indexes) {
                if (index.sameWeights(weights, uniform)) {
                    return index;
                }
            }
            created = new LeastLoadedIndex(this, weights, uniform);
            LeastLoadedIndex[] grown = Arrays.copyOf(indexes, indexes.length + 1);
            grown[indexes.length] = created;
            // Registered before it reads the counts: an open or close racing with the build either
            // shows in the initial read or reconciles afterwards (the index's lock orders the two).
            synchronized (created) {
                indexes = grown;
                created.initialise();
            }
        }
        return created;
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
