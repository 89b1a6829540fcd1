package dev.ferry.source;

import java.util.Arrays;
import java.util.Map;

/**
 * Where each field of some objects was written, by field path ({@code items[3].spec.ports[0].port}),
 * kept as 64-bit hashes of the paths and packed line/column pairs: 16 bytes a node instead of a map
 * entry with its path string (about 150), so that locating rejections costs a fraction of the
 * file's size even for tens of thousands of objects. Two paths whose hashes collide would only
 * misplace an error message. Immutable.
 */
final class PositionIndex {
    private final long[] hashes;
    private final long[] positions;

    private PositionIndex(long[] hashes, long[] positions) {
        this.hashes = hashes;
        this.positions = positions;
    }

    /** Indexes the line and column of every node by its path. */
    static PositionIndex of(Map<String, YamlNode> nodes) {
        Builder b = new Builder();
        nodes.forEach((path, node) -> b.add(hash(path), node.line(), node.column()));
        return b.build();
    }

    /** The position of {@code path}, or null when no node was written there. */
    Manifest.Position get(String path) {
        int at = Arrays.binarySearch(hashes, hash(path));
        if (at < 0) {
            return null;
        }
        long p = positions[at];
        return new Manifest.Position((int) (p >>> 32), (int) p);
    }

    /** The hash of the empty path. */
    static final long EMPTY = 0xcbf29ce484222325L;

    /** 64-bit FNV-1a over the path's characters. */
    static long hash(String s) {
        return extend(EMPTY, s);
    }

    /** The hash of a path that continues the one hashed as {@code h} with {@code s}: hash(a + b) == extend(hash(a), b). */
    static long extend(long h, String s) {
        for (int i = 0; i < s.length(); i++) {
            h ^= s.charAt(i);
            h *= 0x100000001b3L;
        }
        return h;
    }

    /** Collects positions by path hash, without the paths. Not thread-safe. */
    static final class Builder {
        private long[] hashes = new long[32];
        private long[] positions = new long[32];
        private int size;

        void add(long hash, int line, int column) {
            if (size == hashes.length) {
                hashes = Arrays.copyOf(hashes, size * 2);
                positions = Arrays.copyOf(positions, size * 2);
            }
            hashes[size] = hash;
            positions[size] = ((long) line << 32) | (column & 0xffffffffL);
            size++;
        }

        PositionIndex build() {
            long[] h = Arrays.copyOf(hashes, size);
            long[] p = Arrays.copyOf(positions, size);
            sort(h, p, 0, size - 1);
            return new PositionIndex(h, p);
        }

        /** Sorts both arrays by {@code h} (quicksort; insertion sort for short ranges). */
        private static void sort(long[] h, long[] p, int lo, int hi) {
            while (hi - lo > 16) {
                long pivot = h[(lo + hi) >>> 1];
                int i = lo;
                int j = hi;
                while (i <= j) {
                    while (h[i] < pivot) {
                        i++;
                    }
                    while (h[j] > pivot) {
                        j--;
                    }
                    if (i <= j) {
                        swap(h, p, i++, j--);
                    }
                }
                if (j - lo < hi - i) { // recurse into the smaller side: bounded stack
                    sort(h, p, lo, j);
                    lo = i;
                } else {
                    sort(h, p, i, hi);
                    hi = j;
                }
            }
            for (int i = lo + 1; i <= hi; i++) {
                for (int k = i; k > lo && h[k - 1] > h[k]; k--) {
                    swap(h, p, k, k - 1);
                }
            }
        }

        private static void swap(long[] h, long[] p, int a, int b) {
            long t = h[a];
            h[a] = h[b];
            h[b] = t;
            t = p[a];
            p[a] = p[b];
            p[b] = t;
        }
    }
}
