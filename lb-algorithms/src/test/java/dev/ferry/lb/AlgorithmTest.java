package dev.ferry.lb;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

@Tag("unit")
class AlgorithmTest {
    @Test
    void ipvsSchedulerNamesResolve() {
        List<String> ipvs = List.of("rr", "wrr", "lc", "wlc", "sh", "dh", "mh");
        for (String name : ipvs) {
            assertEquals(name, Algorithm.named(name).schedulerName());
        }
        assertSame(Algorithm.P2C, Algorithm.named("p2c"));
        assertSame(Algorithm.RANDOM, Algorithm.named("random"));
        assertSame(Algorithm.MH, Algorithm.named("maglev"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"roundrobin", "RR", " rr", "", "lblc", "sed"})
    void unknownNamesAreRejectedNamingTheNameAndTheValidOnes(String name) {
        UnknownAlgorithmException e = assertThrows(UnknownAlgorithmException.class, () -> Algorithm.named(name));
        assertEquals(name, e.name());
        assertTrue(e.getMessage().contains("'" + name + "'"), e.getMessage());
        assertTrue(e.getMessage().contains("rr, wrr, lc, wlc, sh, dh, mh, p2c, random, maglev"), e.getMessage());
    }

    @Test
    void nullNameIsRejected() {
        UnknownAlgorithmException e = assertThrows(UnknownAlgorithmException.class, () -> Algorithm.named(null));
        assertTrue(e.getMessage().contains("null"), e.getMessage());
    }

    @ParameterizedTest
    @EnumSource(Algorithm.class)
    void everyAlgorithmBuildsItsScheduler(Algorithm algorithm) {
        Backends b = TestBackends.uniform(4);
        Scheduler s = algorithm.newScheduler(b, ConnectionCounts.forBackends(b));
        assertSame(algorithm, s.algorithm());
        assertSame(b, s.backends());
    }

    @ParameterizedTest
    @EnumSource(Algorithm.class)
    void everyAlgorithmGivesNoBackendForAnEmptySet(Algorithm algorithm) {
        Scheduler s = algorithm.newScheduler(Backends.EMPTY, ConnectionCounts.forBackends(Backends.EMPTY));
        assertEquals(Scheduler.NO_BACKEND, s.pick(123, 456));
    }

    @ParameterizedTest
    @EnumSource(Algorithm.class)
    void everyAlgorithmSpreadsNewFlowsEvenlyOverEqualBackends(Algorithm algorithm) {
        Backends b = TestBackends.uniform(13);
        Scheduler s = algorithm.newScheduler(b, ConnectionCounts.forBackends(b));
        long[] picks = new long[b.size()];
        // Flow keys are the input: a fixed seed. Algorithms with their own randomness use it unseeded.
        SplittableRandom random = new SplittableRandom(5);
        for (int i = 0; i < 260_000; i++) {
            picks[s.pick(random.nextLong(), random.nextLong())]++;
        }
        if (algorithm == Algorithm.MH) {
            ChiSquare.assertFits("mh", picks, Arrays2.toDouble(MaglevTest.slotsPerBackend((Maglev) s)));
        } else {
            ChiSquare.assertUniform(algorithm.schedulerName(), picks);
        }
    }

    @ParameterizedTest
    @EnumSource(value = Algorithm.class, names = {"WRR", "SH", "DH", "RANDOM", "MH"})
    void weightedAlgorithmsSpreadNewFlowsInProportionToWeight(Algorithm algorithm) {
        Backends b = TestBackends.weighted(1, 4, 2, 9);
        Scheduler s = algorithm.newScheduler(b, null);
        long[] picks = new long[b.size()];
        SplittableRandom random = new SplittableRandom(6);
        for (int i = 0; i < 320_000; i++) {
            picks[s.pick(random.nextLong(), random.nextLong())]++;
        }
        if (algorithm == Algorithm.MH) {
            // Maglev's turns give weight-proportional slots to within a few; picks follow the table.
            ChiSquare.assertFits("mh", picks, Arrays2.toDouble(MaglevTest.slotsPerBackend((Maglev) s)));
            long[] owned = MaglevTest.slotsPerBackend((Maglev) s);
            for (int i = 0; i < b.size(); i++) {
                double fair = (double) Maglev.DEFAULT_TABLE_SIZE * b.weight(i) / b.totalWeight();
                assertTrue(Math.abs(owned[i] - fair) / fair < 0.01, "backend " + i + ": " + owned[i] + " slots vs " + fair);
            }
        } else {
            ChiSquare.assertFits(algorithm.schedulerName(), picks, TestBackends.weightsOf(b));
        }
    }

    @ParameterizedTest
    @EnumSource(value = Algorithm.class, names = {"LC", "WLC", "P2C"})
    void connectionCountAlgorithmsNeedCounts(Algorithm algorithm) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> algorithm.newScheduler(TestBackends.uniform(2), null));
        assertTrue(e.getMessage().contains(algorithm.schedulerName()), e.getMessage());
    }
}
