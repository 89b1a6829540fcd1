package dev.ferry.lb;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

@Tag("unit")
class LeastConnectionsTest {
    @Test
    void picksTheBackendWithFewestConnections() {
        Backends b = TestBackends.uniform(4);
        ConnectionCounts counts = ConnectionCounts.forBackends(b);
        open(counts, 0, 3);
        open(counts, 1, 1);
        open(counts, 2, 2);
        open(counts, 3, 2);
        Scheduler lc = new LeastConnections(b, counts, false);
        for (int i = 0; i < 100; i++) {
            assertEquals(1, lc.pick(0, 0));
        }
    }

    @Test
    void tiesAreSpreadEvenlyInsteadOfPilingOnTheFirstBackend() {
        Backends b = TestBackends.uniform(10);
        Scheduler lc = new LeastConnections(b, ConnectionCounts.forBackends(b), false);
        long[] picks = new long[b.size()];
        for (int i = 0; i < 200_000; i++) {
            picks[lc.pick(0, 0)]++;
        }
        ChiSquare.assertUniform("lc with every count at zero", picks);
    }

    @Test
    void weightedTiesAreSpreadOverEveryBackendAtTheLeastLoadPerWeight() {
        Backends b = TestBackends.weighted(1, 2, 4, 3);
        ConnectionCounts counts = ConnectionCounts.forBackends(b);
        open(counts, 0, 1);
        open(counts, 1, 2);
        open(counts, 2, 4);
        open(counts, 3, 4);
        Scheduler wlc = new LeastConnections(b, counts, true);
        long[] picks = new long[3];
        for (int i = 0; i < 90_000; i++) {
            int picked = wlc.pick(0, 0);
            assertTrue(picked < 3, "backend 3 has 4/3 per weight, the others 1: picked " + picked);
            picks[picked]++;
        }
        ChiSquare.assertUniform("wlc with backends 0..2 at one connection per weight", picks);
    }

    @Test
    void heldConnectionsStayWithinOneOfEachOther() {
        Backends b = TestBackends.uniform(37);
        ConnectionCounts counts = ConnectionCounts.forBackends(b);
        Scheduler lc = new LeastConnections(b, counts, false);
        for (int i = 0; i < 10_000; i++) {
            counts.opened(lc.pick(0, 0));
            int[] minMax = minMax(counts);
            assertTrue(minMax[1] - minMax[0] <= 1, "after " + (i + 1) + " connections: min " + minMax[0]
                    + ", max " + minMax[1]);
        }
    }

    @Test
    void refillsTheBackendWhoseConnectionsClosed() {
        Backends b = TestBackends.uniform(5);
        ConnectionCounts counts = ConnectionCounts.forBackends(b);
        Scheduler lc = new LeastConnections(b, counts, false);
        for (int i = 0; i < 50; i++) {
            counts.opened(lc.pick(0, 0));
        }
        for (int i = 0; i < 4; i++) {
            counts.closed(3);
        }
        for (int i = 0; i < 4; i++) {
            int picked = lc.pick(0, 0);
            assertEquals(3, picked, "pick " + i + " after backend 3 lost 4 connections");
            counts.opened(picked);
        }
    }

    @Test
    void weightedKeepsConnectionsInProportionToWeight() {
        Backends b = TestBackends.weighted(1, 2, 3, 10);
        ConnectionCounts counts = ConnectionCounts.forBackends(b);
        Scheduler wlc = new LeastConnections(b, counts, true);
        // Churn: the closes are the input, so a fixed seed.
        SplittableRandom random = new SplittableRandom(7);
        for (int i = 0; i < 160_000; i++) {
            counts.opened(wlc.pick(0, 0));
            if (random.nextInt(10) < 4) {
                int victim = random.nextInt(b.size());
                counts.closed(victim);
            }
        }
        // wlc keeps every backend within one connection per unit of weight of the least loaded, and
        // one random close since the last pick can widen that by one more.
        double least = Double.MAX_VALUE;
        for (int i = 0; i < b.size(); i++) {
            least = Math.min(least, (double) counts.get(i) / b.weight(i));
        }
        for (int i = 0; i < b.size(); i++) {
            double perWeight = (double) counts.get(i) / b.weight(i);
            assertTrue(perWeight - least <= 2.0 + 1e-9, "backend " + i + " (weight " + b.weight(i) + ") has "
                    + counts.get(i) + " connections: " + perWeight + " per weight, least is " + least);
        }
        assertTrue(counts.get(3) > 1000, "the test should have built up load: " + counts.get(3));
    }

    @Test
    void closingBelowZeroStaysAtZero() {
        ConnectionCounts counts = new ConnectionCounts(1);
        counts.closed(0);
        assertEquals(0, counts.get(0));
    }

    @Test
    void countsCarryOverToTheSameBackendsByName() {
        Backends before = Backends.of("a", "b", "c");
        ConnectionCounts old = ConnectionCounts.forBackends(before);
        open(old, 0, 5);
        open(old, 2, 7);
        Backends after = Backends.of("c", "d", "a");
        ConnectionCounts next = ConnectionCounts.carriedOver(old, before, after);
        assertEquals(7, next.get(0), "c");
        assertEquals(0, next.get(1), "d is new");
        assertEquals(5, next.get(2), "a");
    }

    @Test
    void countsForAnotherSetAreRejected() {
        assertThrows(IllegalArgumentException.class,
                () -> new LeastConnections(TestBackends.uniform(3), new ConnectionCounts(2), false));
    }

    @Test
    void emptySetPicksNoBackend() {
        assertEquals(Scheduler.NO_BACKEND, new LeastConnections(Backends.EMPTY, new ConnectionCounts(0), true).pick(0, 0));
        assertEquals(Scheduler.NO_BACKEND, new LeastConnections(Backends.EMPTY, new ConnectionCounts(0), false).pick(0, 0));
    }

    static void open(ConnectionCounts counts, int backend, int connections) {
        for (int i = 0; i < connections; i++) {
            counts.opened(backend);
        }
    }

    static int[] minMax(ConnectionCounts counts) {
        int min = Integer.MAX_VALUE;
        int max = Integer.MIN_VALUE;
        for (int i = 0; i < counts.size(); i++) {
            min = Math.min(min, counts.get(i));
            max = Math.max(max, counts.get(i));
        }
        return new int[] {min, max};
    }
}
