package dev.ferry.lb;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

@Tag("unit")
class SmoothWeightedRoundRobinTest {
    @Test
    void interleavesHeavyBackendLikeNginx() {
        // nginx's own example (ngx_http_upstream_round_robin.c, 2012 commit message): 5,1,1 -> a a b a c a a.
        Scheduler wrr = new SmoothWeightedRoundRobin(TestBackends.weighted(5, 1, 1));
        int[] picks = new int[14];
        for (int i = 0; i < picks.length; i++) {
            picks[i] = wrr.pick(0, 0);
        }
        assertArrayEquals(new int[] {0, 0, 1, 0, 2, 0, 0, 0, 0, 1, 0, 2, 0, 0}, picks);
    }

    @Test
    void precomputedOrderIsNginxOrderForRandomWeights() {
        // The weights are the input here, so a fixed seed; each case is checked exactly.
        SplittableRandom random = new SplittableRandom(42);
        for (int c = 0; c < 200; c++) {
            int n = 1 + random.nextInt(12);
            int[] weights = new int[n];
            for (int i = 0; i < n; i++) {
                weights[i] = 1 + random.nextInt(random.nextBoolean() ? 4 : 30);
            }
            int[] expected = nginx(weights, Arrays.stream(weights).sum());
            assertArrayEquals(expected, SmoothWeightedRoundRobin.smoothOrder(weights),
                    "weights " + Arrays.toString(weights));
        }
    }

    @Test
    void eachPeriodGivesEveryBackendExactlyItsWeight() {
        Backends b = TestBackends.weighted(3, 1, 6, 2, 2);
        Scheduler wrr = new SmoothWeightedRoundRobin(b);
        long[] counts = new long[b.size()];
        for (int i = 0; i < 14 * 1000; i++) {
            counts[wrr.pick(0, 0)]++;
        }
        assertArrayEquals(new long[] {3000, 1000, 6000, 2000, 2000}, counts);
    }

    @Test
    void hugeWeightSumsAreScaledKeepingProportions() {
        Backends b = TestBackends.weighted(65_535, 65_534, 3);
        int[] w = SmoothWeightedRoundRobin.periodWeights(b);
        long period = Arrays.stream(w).sum();
        assertTrue(period <= SmoothWeightedRoundRobin.MAX_PERIOD, "period " + period);
        assertTrue(w[2] >= 1, "the lightest backend keeps a turn");
        assertEquals(65_535.0 / 65_534, (double) w[0] / w[1], 1e-3);
    }

    @Test
    void emptySetPicksNoBackend() {
        assertEquals(Scheduler.NO_BACKEND, new SmoothWeightedRoundRobin(Backends.EMPTY).pick(0, 0));
    }

    /** nginx's ngx_http_upstream_get_peer, transcribed, as the reference. */
    private static int[] nginx(int[] weights, int picks) {
        int[] current = new int[weights.length];
        int total = Arrays.stream(weights).sum();
        int[] out = new int[picks];
        for (int p = 0; p < picks; p++) {
            int best = -1;
            for (int i = 0; i < weights.length; i++) {
                current[i] += weights[i];
                if (best == -1 || current[i] > current[best]) {
                    best = i;
                }
            }
            current[best] -= total;
            out[p] = best;
        }
        return out;
    }
}
