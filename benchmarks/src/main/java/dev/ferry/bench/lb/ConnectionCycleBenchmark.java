package dev.ferry.bench.lb;

import dev.ferry.lb.Algorithm;
import dev.ferry.lb.Backends;
import dev.ferry.lb.ConnectionCounts;
import dev.ferry.lb.Scheduler;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * What the proxy pays per short connection for the count-based algorithms: one pick, the open
 * reported against the picked backend, and the close. {@code lc}/{@code wlc} keep a sorted index
 * up to date on open and close (O(log backends) under a lock), so their pick alone
 * ({@link PickBenchmark}) is not their whole cost. Counts start at 1..100 per backend as in
 * {@link PickBenchmark}. State is shared ({@code Scope.Benchmark}): run with {@code -t 2} to see
 * two event loops on one service contend on the counts and the index lock.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@State(Scope.Benchmark)
public class ConnectionCycleBenchmark {
    @Param({"lc", "wlc", "p2c"})
    public String algorithm;

    @Param({"3", "100", "1000"})
    public int backends;

    private Scheduler scheduler;
    private ConnectionCounts counts;

    @Setup
    public void setup() {
        String[] names = new String[backends];
        for (int i = 0; i < backends; i++) {
            names[i] = "10.1." + (i >> 8) + "." + (i & 255) + ":8080";
        }
        Backends set = Backends.of(names);
        counts = ConnectionCounts.forBackends(set);
        SplittableRandom random = new SplittableRandom(1);
        for (int i = 0; i < backends; i++) {
            int open = 1 + random.nextInt(100);
            for (int c = 0; c < open; c++) {
                counts.opened(i);
            }
        }
        scheduler = Algorithm.named(algorithm).newScheduler(set, counts);
    }

    @Benchmark
    public int pickOpenClose() {
        int picked = scheduler.pick(0, 0);
        counts.opened(picked);
        counts.closed(picked);
        return picked;
    }
}
