package dev.ferry.lb;

import java.util.Arrays;

final class Arrays2 {
    private Arrays2() {}

    static double[] toDouble(long[] a) {
        return Arrays.stream(a).asDoubleStream().toArray();
    }
}
