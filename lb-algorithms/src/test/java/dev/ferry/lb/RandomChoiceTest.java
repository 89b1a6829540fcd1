package dev.ferry.lb;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

@Tag("unit")
class RandomChoiceTest {
    // ThreadLocalRandom cannot be seeded: these run on fresh randomness every time, at ChiSquare.ALPHA.

    @Test
    void picksUniformly() {
        Backends b = TestBackends.uniform(1000);
        Scheduler random = new RandomChoice(b);
        long[] picks = new long[b.size()];
        for (int i = 0; i < 2_000_000; i++) {
            picks[random.pick(0, 0)]++;
        }
        ChiSquare.assertUniform("random over 1000 backends", picks);
    }

    @Test
    void picksInProportionToWeight() {
        Backends b = TestBackends.weighted(1, 5, 2, 2, 9, 100);
        Scheduler random = new RandomChoice(b);
        long[] picks = new long[b.size()];
        for (int i = 0; i < 1_000_000; i++) {
            picks[random.pick(0, 0)]++;
        }
        ChiSquare.assertFits("weighted random", picks, TestBackends.weightsOf(b));
    }

    @Test
    void emptySetPicksNoBackend() {
        assertEquals(Scheduler.NO_BACKEND, new RandomChoice(Backends.EMPTY).pick(0, 0));
    }
}
