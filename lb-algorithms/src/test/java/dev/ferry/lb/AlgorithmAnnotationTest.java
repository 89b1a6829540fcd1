package dev.ferry.lb;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

@Tag("unit")
class AlgorithmAnnotationTest {
    @Test
    void missingAnnotationMeansTheNodeDefault() {
        AlgorithmAnnotation.Choice c = AlgorithmAnnotation.choose("default/web", Map.of("other", "x"), Algorithm.RANDOM);
        assertSame(Algorithm.RANDOM, c.algorithm());
        assertNull(c.error());
        assertSame(Algorithm.RR, AlgorithmAnnotation.choose("default/web", null, Algorithm.RR).algorithm());
    }

    @Test
    void annotationOverridesTheNodeDefault() {
        AlgorithmAnnotation.Choice c = AlgorithmAnnotation.choose("default/web",
                Map.of(AlgorithmAnnotation.KEY, "maglev"), Algorithm.RR);
        assertSame(Algorithm.MH, c.algorithm());
        assertFalse(c.isError());
    }

    @Test
    void unknownValueFallsBackToTheDefaultWithAnErrorNamingTheService() {
        AlgorithmAnnotation.Choice c = AlgorithmAnnotation.choose("shop/checkout",
                Map.of(AlgorithmAnnotation.KEY, "least-conn"), Algorithm.P2C);
        assertSame(Algorithm.P2C, c.algorithm());
        assertTrue(c.isError());
        for (String part : new String[] {"shop/checkout", AlgorithmAnnotation.KEY, "'least-conn'", "lc", "wlc",
            "maglev", "'p2c'"}) {
            assertTrue(c.error().contains(part), "error should mention " + part + ": " + c.error());
        }
    }
}
