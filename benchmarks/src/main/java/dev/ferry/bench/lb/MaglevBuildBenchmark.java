package dev.ferry.bench.lb;

import dev.ferry.lb.Backends;
import dev.ferry.lb.Maglev;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/** Building a Maglev table of 65537 slots: what one endpoint change costs a service that uses {@code mh}. */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@State(Scope.Benchmark)
public class MaglevBuildBenchmark {
    @Param({"100", "1000"})
    public int backends;

    private Backends set;

    @Setup
    public void setup() {
        String[] names = new String[backends];
        for (int i = 0; i < backends; i++) {
            names[i] = "10.1." + (i >> 8) + "." + (i & 255) + ":8080";
        }
        set = Backends.of(names);
    }

    @Benchmark
    public Maglev build() {
        return new Maglev(set, Maglev.DEFAULT_TABLE_SIZE);
    }
}
