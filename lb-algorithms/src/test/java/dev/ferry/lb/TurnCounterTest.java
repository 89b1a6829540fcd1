package dev.ferry.lb;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

@Tag("unit")
class TurnCounterTest {
    @Test
    void remainderEqualsDivisionForEveryPeriodShape() {
        // The values and periods are the input: a fixed seed, plus the edges of both ranges.
        SplittableRandom random = new SplittableRandom(13);
        int[] periods = {1, 2, 3, 7, 100, 1000, 65_536, 65_537, 1 << 20, Integer.MAX_VALUE};
        int[] edges = {0, 1, -1, Integer.MAX_VALUE, Integer.MIN_VALUE, -2};
        for (int c = 0; c < 2000; c++) {
            int period = c < periods.length ? periods[c] : 1 + random.nextInt(random.nextBoolean() ? 2000 : Integer.MAX_VALUE);
            TurnCounter counter = new TurnCounter(period);
            for (int value : edges) {
                assertEquals(Integer.remainderUnsigned(value, period), counter.remainder(value), value + " mod " + period);
            }
            for (int i = 0; i < 1000; i++) {
                int value = random.nextInt();
                assertEquals(Integer.remainderUnsigned(value, period), counter.remainder(value), value + " mod " + period);
            }
        }
    }

    @Test
    void turnsCycleThroughThePeriod() {
        TurnCounter counter = new TurnCounter(3);
        for (int i = 0; i < 9; i++) {
            assertEquals(i % 3, counter.next());
        }
    }
}
