package dev.ferry.lb;

import java.util.Arrays;

/**
 * The backends of one {@link ConnectionCounts} kept sorted by load (connections, or connections per
 * unit of weight), so that {@link LeastConnections} picks in O(1): a random one of the first
 * {@code leastCount} entries of {@code order}, the backends tied at the least load.
 *
 * <p>Updated by {@link ConnectionCounts#opened}/{@link ConnectionCounts#closed} after they change the
 * atomic count: {@link #reconcile} reads the backend's current count and moves it to its place, one
 * swap per group of equal load it crosses (a ±1 change in {@code lc} crosses one group), with a binary
 * search for each group's end: O(log n). Updates are serialised by this object's monitor; the pick
 * takes no lock: it reads the volatile {@code leastCount} and one slot of {@code order}. A pick that
 * races with an update may see a slot mid-swap (a backend that has just left the least-loaded group,
 * or one listed twice for a moment); and a count changed by another thread becomes visible to picks
 * only once that thread has reconciled it. Both are off by the in-flight updates only.
 */
final class LeastLoadedIndex {
    private final ConnectionCounts counts;
    /** Null when every weight is equal: plain count comparison. */
    private final int[] weights;
    private final int n;
    /** Backend indexes sorted by {@link #tracked} load, ascending. Written under the monitor. */
    private final int[] order;
    /** Position of each backend in {@code order}. Under the monitor. */
    private final int[] position;
    /** The counts this index is sorted by: the atomic counts as of the last reconcile. Under the monitor. */
    private final int[] tracked;
    /** How many entries at the start of {@code order} share the least load (≥ 1 unless n == 0). */
    private volatile int leastCount;

    LeastLoadedIndex(ConnectionCounts counts, int[] weights, boolean uniform) {
        this.counts = counts;
        this.n = counts.size();
        this.weights = uniform ? null : weights.clone();
        this.order = new int[n];
        this.position = new int[n];
        this.tracked = new int[n];
    }

    /** Reads every count and sorts. Called once, after this index is registered with the counts. */
    synchronized void initialise() {
        Integer[] sorted = new Integer[n];
        for (int i = 0; i < n; i++) {
            tracked[i] = counts.get(i);
            sorted[i] = i;
        }
        Arrays.sort(sorted, (a, b) -> compare(a, b));
        for (int p = 0; p < n; p++) {
            order[p] = sorted[p];
            position[sorted[p]] = p;
        }
        publishLeast();
    }

    boolean sameWeights(int[] otherWeights, boolean uniform) {
        return weights == null ? uniform : !uniform && Arrays.equals(weights, otherWeights);
    }

    /** One of the least-loaded backends, chosen by {@code random}. Lock-free, allocation-free. */
    int pick(int random) {
        int k = leastCount;
        return order[FlowHash.reduce(random, k)];
    }

    /** Moves {@code backend} to where its current count puts it. Idempotent. */
    synchronized void reconcile(int backend) {
        int now = counts.get(backend);
        int before = tracked[backend];
        if (now == before) {
            return;
        }
        tracked[backend] = now;
        if (now > before) {
            moveUp(backend);
        } else {
            moveDown(backend);
        }
        publishLeast();
    }

    private void moveUp(int b) {
        int p = position[b];
        while (p + 1 < n && compare(order[p + 1], b) < 0) {
            int end = lastOfGroup(p + 1);
            swap(p, end);
            p = end;
        }
    }

    private void moveDown(int b) {
        int p = position[b];
        while (p > 0 && compare(order[p - 1], b) > 0) {
            int start = firstOfGroup(p - 1);
            swap(p, start);
            p = start;
        }
    }

    /** The last position holding the same load as position {@code p}. */
    private int lastOfGroup(int p) {
        int key = order[p];
        int lo = p;
        int hi = n - 1;
        while (lo < hi) {
            int mid = (lo + hi + 1) >>> 1;
            if (compare(order[mid], key) == 0) {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        return lo;
    }

    /** The first position holding the same load as position {@code p}. */
    private int firstOfGroup(int p) {
        int key = order[p];
        int lo = 0;
        int hi = p;
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (compare(order[mid], key) == 0) {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        return lo;
    }

    private void swap(int p, int q) {
        int a = order[p];
        int b = order[q];
        order[p] = b;
        order[q] = a;
        position[b] = p;
        position[a] = q;
    }

    private void publishLeast() {
        leastCount = n == 0 ? 0 : lastOfGroup(0) + 1;
    }

    /** Load of a against load of b: counts, or counts/weight by cross-multiplying as IPVS does. */
    private int compare(int a, int b) {
        if (weights == null) {
            return Integer.compare(tracked[a], tracked[b]);
        }
        return Long.compare((long) tracked[a] * weights[b], (long) tracked[b] * weights[a]);
    }
}
