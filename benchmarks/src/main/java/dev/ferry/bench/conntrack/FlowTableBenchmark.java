package dev.ferry.bench.conntrack;

import dev.ferry.conntrack.ConntrackConfig;
import dev.ferry.conntrack.ConntrackState;
import dev.ferry.conntrack.Endpoint;
import dev.ferry.conntrack.Flow;
import dev.ferry.conntrack.FlowKey;
import dev.ferry.conntrack.FlowTable;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * The userspace proxy's per-datagram flow lookup and per-new-flow insert against a persisted
 * Chronicle Map flow table holding {@code entries} UDP flows. Keys are visited in a pseudo-random
 * order so the table's memory, not a cached line, is measured.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class FlowTableBenchmark {
    static final long T0 = 1_700_000_000_000L;

    @Param("1000000")
    int entries;

    Path dir;
    ConntrackState state;
    FlowTable flows;

    final FlowKey key = new FlowKey().frontendIpv4(0x0a60000a).frontendPort(53);
    final Flow out = new Flow();
    final Endpoint backend = new Endpoint().port(5353);
    int cursor = 1;
    long now = T0;
    int fresh;

    @Setup(Level.Trial)
    public void fill() throws IOException {
        dir = Files.createTempDirectory("ferry-flow-bench");
        // Room for the inserts that are removed again, so the table never evicts here.
        // A UDP idle timeout of ten years: lookupHitWithTouch moves the clock 1 s per call, and the
        // flows must not age out under it.
        state = ConntrackState.open(dir, ConntrackConfig.DEFAULTS.withMaxFlows(entries + entries / 4)
                .withUdpIdleTimeout(Duration.ofDays(3650)));
        flows = state.flows();
        for (int i = 0; i < entries; i++) {
            flows.record(keyFor(key, i), backend.ipv4(0x0a010000 + (i % 100)), T0);
        }
        fresh = entries;
    }

    @TearDown(Level.Trial)
    public void delete() throws IOException {
        state.close();
        try (Stream<Path> files = Files.walk(dir)) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    /** Flow i: client 10.x.y.z (i / 64), source port 1024 + i % 64. */
    static FlowKey keyFor(FlowKey k, int i) {
        return k.clientIpv4(0x0a000000 | (i >>> 6)).clientPort(1024 + (i & 63));
    }

    private int nextIndex() {
        // xorshift: a full-period walk over ints, folded into [0, entries).
        int x = cursor;
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        cursor = x;
        return (x & Integer.MAX_VALUE) % entries;
    }

    /** A datagram of a known flow (lastSeen is fresh, so no write-back). */
    @Benchmark
    public boolean lookupHit() {
        return flows.lookup(keyFor(key, nextIndex()), T0 + 500, out);
    }

    /** A datagram of a new flow: the lookup that precedes the backend pick. */
    @Benchmark
    public boolean lookupMiss() {
        return flows.lookup(keyFor(key, entries + (nextIndex() & 0xffff)), T0 + 500, out);
    }

    /** A datagram of a known flow last seen over a second ago: lookup plus lastSeen write-back. */
    @Benchmark
    public boolean lookupHitWithTouch() {
        now += 1_000;
        return flows.lookup(keyFor(key, nextIndex()), now, out);
    }

    /** A new flow recorded and, to keep the table at its size, removed: insert + remove. */
    @Benchmark
    public boolean insertThenRemove() {
        keyFor(key, fresh);
        fresh = fresh == Integer.MAX_VALUE ? entries : fresh + 1;
        flows.record(key, backend, T0);
        return flows.remove(key);
    }

    /** A flow re-pointed to another backend: replace in place. */
    @Benchmark
    public void recordExisting() {
        flows.record(keyFor(key, nextIndex()), backend, T0);
    }
}
