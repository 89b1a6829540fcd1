package dev.ferry.bench.rules.nft;

import dev.ferry.model.Cidr;
import dev.ferry.model.ServicePort;
import dev.ferry.rules.nft.NftOptions;
import dev.ferry.rules.nft.NftRenderer;
import java.util.List;
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
 * Java time to render the whole nftables payload (both families, empty kernel) for n services x 5
 * endpoints — what {@code ferry sync --dry-run --mode nftables} and a first full sync pay before nft
 * runs. The partial-sync render time is measured by the harness (NftSyncHarness) from the syncer's
 * own report, since it depends on the previous state.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class NftRenderBenchmark {
    @Param({"1000", "10000", "30000"})
    public int services;

    private List<ServicePort> ports;
    private NftOptions options;

    @Setup
    public void setup() {
        ports = NftServiceFixture.services(services);
        options = NftOptions.defaults().withClusterCidrs(List.of(Cidr.parse("10.128.0.0/9")));
    }

    @Benchmark
    public String fullRender() {
        return NftRenderer.render(ports, options);
    }
}
