package dev.ferry.bench.rules.iptables;

import dev.ferry.model.Cidr;
import dev.ferry.model.ServicePort;
import dev.ferry.rules.iptables.IptablesRenderer;
import dev.ferry.rules.iptables.RenderCache;
import dev.ferry.rules.iptables.RenderOptions;
import dev.ferry.rules.iptables.Rendering;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Java time to render the iptables-restore payload (validation included): a full sync, and a partial
 * sync after one endpoint of one service changed (compared against the previous chain hashes), with
 * and without the per-service render cache the syncer keeps.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"-Xmx3g"})
public class IptablesRenderBenchmark {
    @Param({"1000", "10000", "30000"})
    int services;

    static final RenderOptions OPTS = RenderOptions.defaults(false).withClusterCidrs(List.of(Cidr.parse("10.128.0.0/9")));
    List<ServicePort> before;
    List<ServicePort> after;
    Map<String, Long> previous;
    RenderCache cache;
    /** The syncer's state: its ports, the hashes of its last applied rendering, its cache. */
    List<ServicePort> syncerPorts;
    Map<String, Long> syncerApplied;
    RenderCache syncerCache;
    ServicePort[] generations;
    int flip;

    @Setup
    public void setup() {
        before = ServiceFixture.services(services);
        after = new ArrayList<>(before);
        int k = services / 2;
        after.set(k, ServiceFixture.service(k, 1));
        previous = IptablesRenderer.render(before, OPTS, Map.of(), true).chainHashes();
        cache = new RenderCache();
        IptablesRenderer.render(before, OPTS, Map.of(), true, cache);
        syncerPorts = new ArrayList<>(before);
        syncerCache = new RenderCache();
        syncerApplied = IptablesRenderer.render(syncerPorts, OPTS, Map.of(), true, syncerCache).chainHashes();
        generations = new ServicePort[] {ServiceFixture.service(k, 1), ServiceFixture.service(k, 0)};
    }

    @Benchmark
    public Rendering fullSync() {
        return IptablesRenderer.render(before, OPTS, Map.of(), true);
    }

    /** Without the syncer's cache: every service is rendered and hashed again. */
    @Benchmark
    public Rendering oneEndpointChangeUncached() {
        return IptablesRenderer.render(after, OPTS, previous, false);
    }

    /**
     * With the cache, against a fixed previous: service k is re-rendered on every call (its chains
     * differ from previous), every other one comes from the cache after its chains are looked up.
     */
    @Benchmark
    public Rendering oneEndpointChange() {
        return IptablesRenderer.render(after, OPTS, previous, false, cache);
    }

    /**
     * Exactly what IptablesSyncer does for a stream of one-endpoint changes: service k alternates
     * between two endpoint sets, and each render gets the previous render's chain hashes (the last
     * applied rendering) and the same cache.
     */
    @Benchmark
    public Rendering oneEndpointChangeAsSyncer() {
        int k = services / 2;
        syncerPorts.set(k, generations[flip ^= 1]);
        Rendering r = IptablesRenderer.render(syncerPorts, OPTS, syncerApplied, false, syncerCache);
        syncerApplied = r.chainHashes();
        return r;
    }
}
