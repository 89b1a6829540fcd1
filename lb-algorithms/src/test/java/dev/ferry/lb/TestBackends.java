package dev.ferry.lb;

import java.util.stream.IntStream;

/** Backend sets for tests: names that look like the pod endpoints the proxy will pass in. */
final class TestBackends {
    private TestBackends() {}

    static Backends uniform(int n) {
        return Backends.of(names(n));
    }

    static Backends weighted(int... weights) {
        return Backends.weighted(names(weights.length), weights);
    }

    static String[] names(int n) {
        return IntStream.range(0, n).mapToObj(TestBackends::name).toArray(String[]::new);
    }

    static String name(int i) {
        return "10." + (i >> 16 & 255) + "." + (i >> 8 & 255) + "." + (i & 255) + ":8080";
    }

    static double[] weightsOf(Backends b) {
        double[] w = new double[b.size()];
        for (int i = 0; i < w.length; i++) {
            w[i] = b.weight(i);
        }
        return w;
    }
}
