package dev.ferry.lb;

/**
 * Maps a 64-bit hash (or random number) to a backend index with probability proportional to its
 * weight, in constant time: Walker's alias method, built with Vose's exact integer bookkeeping.
 * The low 32 bits choose a column, the high 32 bits choose between the column's owner and its alias.
 * Immutable once built; thread-safe.
 */
final class WeightedIndex {
    private static final long ALWAYS = 1L << 32;

    private final int n;
    private final long[] threshold;
    private final int[] alias;

    WeightedIndex(Backends backends) {
        n = backends.size();
        threshold = new long[n];
        alias = new int[n];
        if (n == 0) {
            return;
        }
        long total = backends.totalWeight();
        // Column i holds weight(i) * n / total of backend i's probability, measured in units of 1/total.
        long[] share = new long[n];
        int[] small = new int[n];
        int[] large = new int[n];
        int smallCount = 0;
        int largeCount = 0;
        for (int i = 0; i < n; i++) {
            share[i] = (long) backends.weight(i) * n;
            alias[i] = i;
            if (share[i] < total) {
                small[smallCount++] = i;
            } else {
                large[largeCount++] = i;
            }
        }
        while (smallCount > 0 && largeCount > 0) {
            int s = small[--smallCount];
            int l = large[largeCount - 1];
            threshold[s] = Math.round((double) share[s] / total * ALWAYS);
            alias[s] = l;
            share[l] -= total - share[s];
            if (share[l] < total) {
                largeCount--;
                small[smallCount++] = l;
            }
        }
        while (largeCount > 0) {
            threshold[large[--largeCount]] = ALWAYS;
        }
        while (smallCount > 0) {
            // Only reachable through rounding; the integer bookkeeping above leaves none.
            threshold[small[--smallCount]] = ALWAYS;
        }
    }

    int index(long hash) {
        int column = FlowHash.reduce(hash, n);
        return (hash >>> 32) < threshold[column] ? column : alias[column];
    }
}
