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
 * One backend pick, per algorithm and backend count: the cost the proxy pays per new connection.
 * Backends have equal weights (EndpointSlices carry none); lc, wlc and p2c see live counts of
 * 1..100, so no least-connections search can stop early at an idle backend. lc/wlc keep their
 * cost in open/close since they keep a sorted index: see {@link ConnectionCycleBenchmark}. Each fork runs one algorithm, so the
 * pick call is monomorphic here; in the proxy it is a megamorphic interface call (a few ns more).
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@State(Scope.Thread)
public class PickBenchmark {
    @Param({"rr", "wrr", "lc", "wlc", "sh", "dh", "mh", "p2c", "random"})
    public String algorithm;

    @Param({"3", "100", "1000"})
    public int backends;

    private Scheduler scheduler;
    private long flow;

    @Setup
    public void setup() {
        String[] names = new String[backends];
        for (int i = 0; i < backends; i++) {
            names[i] = "10.1." + (i >> 8) + "." + (i & 255) + ":8080";
        }
        Backends set = Backends.of(names);
        ConnectionCounts counts = ConnectionCounts.forBackends(set);
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
    public int pick() {
        // A new flow key per pick, as for new connections from many clients.
        long key = flow += 0x9E37_79B9_7F4A_7C15L;
        return scheduler.pick(key, key ^ 0x5555_5555_5555_5555L);
    }
}
