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
        long[][] pairs = new long[nodes.size()][];
        int i = 0;
        for (Map.Entry<String, YamlNode> e : nodes.entrySet()) {
            pairs[i++] = new long[] {hash(e.getKey()), ((long) e.getValue().line() << 32) | (e.getValue().column() & 0xffffffffL)};
        }
        Arrays.sort(pairs, (a, b) -> Long.compare(a[0], b[0]));
        long[] h = new long[pairs.length];
        long[] p = new long[pairs.length];
        for (int j = 0; j < pairs.length; j++) {
            h[j] = pairs[j][0];
            p[j] = pairs[j][1];
        }
        return new PositionIndex(h, p);
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

    /** 64-bit FNV-1a over the path's characters. */
    static long hash(String s) {
        long h = 0xcbf29ce484222325L;
        for (int i = 0; i < s.length(); i++) {
            h ^= s.charAt(i);
            h *= 0x100000001b3L;
        }
        return h;
    }
}
