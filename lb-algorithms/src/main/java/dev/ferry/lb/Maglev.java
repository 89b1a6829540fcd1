package dev.ferry.lb;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * IPVS {@code mh}: Maglev consistent hashing (Eisenbud et al., "Maglev: A Fast and Reliable
 * Software Network Load Balancer", NSDI 2016, section 3.4).
 *
 * <p>Each backend gets a permutation of the table's slots from two hashes of its name ({@code offset}
 * and {@code skip}); backends take turns claiming their next free preferred slot until the table is
 * full, and a pick is one array read. Every backend ends up with floor or ceil of M/N slots (in
 * proportion to weight, when weighted), and a change of one backend moves few other slots; the
 * paper's trade-off is near-perfect balance for slightly more than minimal disruption.
 *
 * <p>Weights follow the paper's suggestion of changing how often a backend takes a turn: each round,
 * a backend earns its weight in credit and takes one turn per {@code max weight} of credit.
 *
 * <p>Built on the cold path (about a millisecond for 1000 backends at M = 65537). The lookup table
 * lives off-heap ({@code 2 x M} bytes for up to 65535 backends, else {@code 4 x M}): a node may hold
 * one per service, and the JVM heap must not grow with the number of services. Immutable once
 * built; picks are thread-safe.
 */
public final class Maglev implements Scheduler {
    /** The paper's default, also IPVS's. The paper wants M well above 100 x backends for a 1% balance. */
    public static final int DEFAULT_TABLE_SIZE = 65_537;
    /** Keeps {@code slot + skip} inside an int while filling. */
    public static final int MAX_TABLE_SIZE = (1 << 30) - 35; // 1073741789, the largest prime below 2^30

    private final Backends backends;
    private final UnsafeBuffer table;
    private final int size;
    private final boolean wide;

    /** A table of {@value #DEFAULT_TABLE_SIZE} slots. */
    public Maglev(Backends backends) {
        this(backends, DEFAULT_TABLE_SIZE);
    }

    /**
     * @throws IllegalArgumentException if {@code tableSize} is not a prime in 2..{@value #MAX_TABLE_SIZE}
     *     or is smaller than the number of backends (some would get no slot)
     */
    public Maglev(Backends backends, int tableSize) {
        if (tableSize < 2 || tableSize > MAX_TABLE_SIZE || !isPrime(tableSize)) {
            throw new IllegalArgumentException("Maglev table size " + tableSize
                    + " must be a prime between 2 and " + MAX_TABLE_SIZE + " (the default is "
                    + DEFAULT_TABLE_SIZE + ")");
        }
        if (tableSize < backends.size()) {
            throw new IllegalArgumentException("Maglev table size " + tableSize + " is smaller than the "
                    + backends.size() + " backends; use a prime at least 100 times larger");
        }
        this.backends = backends;
        int[] filled = fill(backends, tableSize);
        this.size = tableSize;
        this.wide = backends.size() > 0xFFFE;
        int entry = wide ? 4 : 2;
        this.table = new UnsafeBuffer(ByteBuffer.allocateDirect(tableSize * entry).order(ByteOrder.nativeOrder()));
        for (int i = 0; i < tableSize; i++) {
            if (wide) {
                table.putInt(i * 4, filled[i]);
            } else {
                // NO_BACKEND (-1) is stored as 0xFFFF and only occurs in an empty set's table.
                table.putChar(i * 2, (char) filled[i]);
            }
        }
    }

    @Override
    public int pick(long sourceKey, long destinationKey) {
        int slot = reduce(FlowHash.mix(sourceKey), size);
        if (wide) {
            return table.getInt(slot * 4);
        }
        int v = table.getChar(slot * 2);
        return v == 0xFFFF ? NO_BACKEND : v;
    }

    /** The backend index that owns each slot: a copy, for tests and {@code ferry explain}. */
    public int[] lookupTable() {
        int[] copy = new int[size];
        for (int i = 0; i < size; i++) {
            copy[i] = wide ? table.getInt(i * 4) : (table.getChar(i * 2) == 0xFFFF ? NO_BACKEND : table.getChar(i * 2));
        }
        return copy;
    }

    public int tableSize() {
        return size;
    }

    @Override
    public Backends backends() {
        return backends;
    }

    @Override
    public Algorithm algorithm() {
        return Algorithm.MH;
    }

    private static int reduce(long hash, int m) {
        // The high 32 bits: FlowHash.reduce uses the low ones, and a flow key mixed the same way
        // elsewhere should not pick correlated slots here.
        return (int) (((hash >>> 32) * m) >>> 32);
    }

    /** The paper's Populate (Pseudocode 1), with the permutation computed as it is walked, not stored. */
    private static int[] fill(Backends backends, int m) {
        int[] table = new int[m];
        Arrays.fill(table, NO_BACKEND);
        int n = backends.size();
        if (n == 0) {
            return table;
        }
        int[] slot = new int[n]; // permutation[i][next[i]] = (offset + next[i] * skip) mod M
        int[] skip = new int[n];
        int[] weight = new int[n];
        int[] credit = new int[n];
        int maxWeight = 0;
        for (int i = 0; i < n; i++) {
            String name = backends.name(i);
            slot[i] = (int) Long.remainderUnsigned(FlowHash.nameHash1(name), m);
            skip[i] = (int) Long.remainderUnsigned(FlowHash.nameHash2(name), m - 1) + 1;
            weight[i] = backends.weight(i);
            maxWeight = Math.max(maxWeight, weight[i]);
        }
        // Turns go in name order, not in the caller's order: the table then depends only on the set,
        // and an endpoint list that comes back reordered moves nothing.
        int[] turns = nameOrder(backends);
        int filled = 0;
        while (true) {
            for (int i : turns) {
                credit[i] += weight[i];
                while (credit[i] >= maxWeight) {
                    credit[i] -= maxWeight;
                    int c = slot[i];
                    int step = skip[i];
                    while (table[c] >= 0) {
                        c += step;
                        if (c >= m) {
                            c -= m;
                        }
                    }
                    table[c] = i;
                    c += step;
                    slot[i] = c >= m ? c - m : c;
                    if (++filled == m) {
                        return table;
                    }
                }
            }
        }
    }

    private static int[] nameOrder(Backends backends) {
        Integer[] order = new Integer[backends.size()];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        Arrays.sort(order, (a, b) -> backends.name(a).compareTo(backends.name(b)));
        return Arrays.stream(order).mapToInt(Integer::intValue).toArray();
    }

    static boolean isPrime(int x) {
        if (x < 2) {
            return false;
        }
        if (x % 2 == 0) {
            return x == 2;
        }
        for (int d = 3; (long) d * d <= x; d += 2) {
            if (x % d == 0) {
                return false;
            }
        }
        return true;
    }
}
