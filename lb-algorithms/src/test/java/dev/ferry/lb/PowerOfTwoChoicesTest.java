package dev.ferry.lb;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

@Tag("unit")
class PowerOfTwoChoicesTest {
    @Test
    void idleBackendsArePickedUniformly() {
        Backends b = TestBackends.uniform(20);
        Scheduler p2c = new PowerOfTwoChoices(b, ConnectionCounts.forBackends(b));
        long[] picks = new long[b.size()];
        for (int i = 0; i < 400_000; i++) {
            picks[p2c.pick(0, 0)]++;
        }
        ChiSquare.assertUniform("p2c over idle backends", picks);
    }

    @Test
    void idleWeightedBackendsArePickedInProportionToWeight() {
        Backends b = TestBackends.weighted(1, 2, 3, 10);
        Scheduler p2c = new PowerOfTwoChoices(b, ConnectionCounts.forBackends(b));
        long[] picks = new long[b.size()];
        for (int i = 0; i < 400_000; i++) {
            picks[p2c.pick(0, 0)]++;
        }
        ChiSquare.assertFits("weighted p2c over idle backends", picks, TestBackends.weightsOf(b));
    }

    @Test
    void ofTwoBackendsAlwaysPicksTheLessLoaded() {
        Backends b = TestBackends.uniform(2);
        ConnectionCounts counts = ConnectionCounts.forBackends(b);
        LeastConnectionsTest.open(counts, 0, 3);
        Scheduler p2c = new PowerOfTwoChoices(b, counts);
        for (int i = 0; i < 1000; i++) {
            assertEquals(1, p2c.pick(0, 0));
        }
    }

    @Test
    void heldConnectionsStayClosePacked() {
        // Balls into bins with two choices: the gap between the fullest bin and the average stays
        // at ln ln n / ln 2 + O(1) (about 3 here) however many balls; with one random choice it
        // would grow like the square root of the load (about 30 here).
        Backends b = TestBackends.uniform(100);
        ConnectionCounts counts = ConnectionCounts.forBackends(b);
        Scheduler p2c = new PowerOfTwoChoices(b, counts);
        int connections = 100 * 100;
        for (int i = 0; i < connections; i++) {
            counts.opened(p2c.pick(0, 0));
        }
        int[] minMax = LeastConnectionsTest.minMax(counts);
        assertTrue(minMax[1] - connections / 100 <= 8, "fullest backend has " + minMax[1] + ", average 100");
        assertTrue(connections / 100 - minMax[0] <= 8, "emptiest backend has " + minMax[0] + ", average 100");
    }

    @Test
    void emptyAndSingleBackendSets() {
        assertEquals(Scheduler.NO_BACKEND, new PowerOfTwoChoices(Backends.EMPTY, new ConnectionCounts(0)).pick(0, 0));
        assertEquals(0, new PowerOfTwoChoices(TestBackends.uniform(1), new ConnectionCounts(1)).pick(0, 0));
    }
}
