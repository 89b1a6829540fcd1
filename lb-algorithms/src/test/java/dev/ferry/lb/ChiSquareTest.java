package dev.ferry.lb;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** The distribution tests are only as good as their p-values: check them against published tables. */
@Tag("unit")
class ChiSquareTest {
    @Test
    void pValuesMatchPublishedCriticalValues() {
        // Upper-tail critical values (NIST/SEMATECH e-Handbook, table 1.3.6.7.4; df 2 exact: -2 ln p).
        assertEquals(0.05, ChiSquare.pValue(3.841, 1), 1e-4);
        assertEquals(0.05, ChiSquare.pValue(18.307, 10), 1e-4);
        assertEquals(0.01, ChiSquare.pValue(135.807, 100), 1e-4);
        assertEquals(1e-6, ChiSquare.pValue(-2 * Math.log(1e-6), 2), 1e-9);
        assertEquals(0.5, ChiSquare.pValue(998.33, 999), 0.01);
    }

    @Test
    void aSkewedCountFailsTheFit() {
        assertThrows(AssertionError.class,
                () -> ChiSquare.assertUniform("skewed", new long[] {10_000, 10_000, 10_900}));
    }

    @Test
    void anEvenCountPassesTheFit() {
        ChiSquare.assertUniform("even", new long[] {10_000, 10_050, 9_950});
    }
}
