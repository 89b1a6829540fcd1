package dev.ferry.lb;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;

/**
 * Pearson's chi-square goodness-of-fit test for the distribution tests, with the p-value from the
 * regularised upper incomplete gamma function (Numerical Recipes' series and continued fraction).
 */
final class ChiSquare {
    /**
     * The significance level of every distribution test: a correct algorithm fails one run in ten
     * million, so a failure means a bug, not bad luck.
     */
    static final double ALPHA = 1e-7;

    private ChiSquare() {}

    static double statistic(long[] observed, double[] expected) {
        double x = 0;
        for (int i = 0; i < observed.length; i++) {
            double d = observed[i] - expected[i];
            x += d * d / expected[i];
        }
        return x;
    }

    /** P(X >= x) for X chi-square distributed with {@code df} degrees of freedom. */
    static double pValue(double x, int df) {
        return upperGamma(df / 2.0, x / 2.0);
    }

    /** Asserts that {@code observed} counts fit {@code weights} (expected share proportional to weight). */
    static void assertFits(String what, long[] observed, double[] weights) {
        long total = Arrays.stream(observed).sum();
        double weightSum = Arrays.stream(weights).sum();
        double[] expected = new double[weights.length];
        for (int i = 0; i < weights.length; i++) {
            expected[i] = total * weights[i] / weightSum;
            assertTrue(expected[i] >= 5, what + ": too few picks for a chi-square test");
        }
        double x = statistic(observed, expected);
        double p = pValue(x, observed.length - 1);
        assertTrue(p > ALPHA, () -> what + ": counts " + brief(observed) + " do not fit weights " + brief(weights)
                + " (chi-square " + x + ", df " + (observed.length - 1) + ", p " + p + " <= " + ALPHA + ")");
    }

    static void assertUniform(String what, long[] observed) {
        double[] w = new double[observed.length];
        Arrays.fill(w, 1);
        assertFits(what, observed, w);
    }

    private static String brief(long[] a) {
        return a.length <= 12 ? Arrays.toString(a) : Arrays.toString(Arrays.copyOf(a, 12)) + "...";
    }

    private static String brief(double[] a) {
        return a.length <= 12 ? Arrays.toString(a) : Arrays.toString(Arrays.copyOf(a, 12)) + "...";
    }

    private static double upperGamma(double a, double x) {
        if (x <= 0) {
            return 1;
        }
        if (x < a + 1) {
            double sum = 1 / a;
            double term = sum;
            for (int n = 1; n < 10_000; n++) {
                term *= x / (a + n);
                sum += term;
                if (Math.abs(term) < Math.abs(sum) * 1e-15) {
                    break;
                }
            }
            return 1 - sum * Math.exp(-x + a * Math.log(x) - logGamma(a));
        }
        double tiny = 1e-300;
        double b = x + 1 - a;
        double c = 1 / tiny;
        double d = 1 / b;
        double h = d;
        for (int i = 1; i < 10_000; i++) {
            double an = -i * (i - a);
            b += 2;
            d = an * d + b;
            if (Math.abs(d) < tiny) {
                d = tiny;
            }
            c = b + an / c;
            if (Math.abs(c) < tiny) {
                c = tiny;
            }
            d = 1 / d;
            double delta = d * c;
            h *= delta;
            if (Math.abs(delta - 1) < 1e-15) {
                break;
            }
        }
        return Math.exp(-x + a * Math.log(x) - logGamma(a)) * h;
    }

    /** Lanczos approximation (g = 7, n = 9), accurate to about 1e-15 for a > 0. */
    private static double logGamma(double a) {
        double[] c = {0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
            -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6,
            1.5056327351493116e-7};
        if (a < 0.5) {
            return Math.log(Math.PI / Math.sin(Math.PI * a)) - logGamma(1 - a);
        }
        a -= 1;
        double s = c[0];
        for (int i = 1; i < 9; i++) {
            s += c[i] / (a + i);
        }
        double t = a + 7.5;
        return 0.5 * Math.log(2 * Math.PI) + (a + 0.5) * Math.log(t) - t + Math.log(s);
    }
}
