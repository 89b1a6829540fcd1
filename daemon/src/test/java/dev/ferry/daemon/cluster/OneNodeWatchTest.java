package dev.ferry.daemon.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.daemon.config.ProxyConfig;
import dev.ferry.daemon.http.ProxierHealth;
import dev.ferry.daemon.http.ProxyMetrics;
import dev.ferry.table.ServiceTable;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.mockwebserver.http.RecordedRequest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;

/**
 * The daemon watches its Node once: the same watch gives the change tracker the zone and /healthz
 * the node's eligibility (deletion, the autoscaler's deletion taint).
 */
class OneNodeWatchTest {
    private static void await(String what, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for " + what);
            }
            Thread.sleep(20);
        }
    }

    @Test
    void oneNodeWatchFeedsTheZoneAndTheHealthCheck() throws Exception {
        try (MockApi api = MockApi.start()) {
            api.client().nodes().resource(new NodeBuilder().withNewMetadata().withName("node-a").endMetadata().build()).create();
            ProxierHealth health = new ProxierHealth(Duration.ofMinutes(1), System::currentTimeMillis);
            ClusterSource source = ClusterSource.create(api.client().getConfiguration(), "mock", "node-a",
                    ProxyConfig.defaults(), update -> new ServiceTable.SyncResult(0, 0, 0, 0, List.of()), health,
                    new ProxyMetrics());
            try {
                source.start();
                await("the Node watched", () -> source.watcher().hasSynced());
                assertTrue(health.nodeEligible());

                api.client().nodes().withName("node-a").edit(n -> new NodeBuilder(n).editMetadata()
                        .addToLabels("topology.kubernetes.io/zone", "zone-b").endMetadata()
                        .withNewSpec().addNewTaint().withKey("ToBeDeletedByClusterAutoscaler").withEffect("NoSchedule")
                        .endTaint().endSpec().build());
                await("the zone reaching the tracker", () -> "zone-b".equals(source.watcher().node().zone()));
                await("the taint reaching /healthz", () -> !health.nodeEligible());

                List<String> nodeWatches = new ArrayList<>();
                for (RecordedRequest r; (r = api.server().takeRequest(200, TimeUnit.MILLISECONDS)) != null; ) {
                    if (r.getPath().startsWith("/api/v1/nodes") && r.getPath().contains("watch=true")) {
                        nodeWatches.add(r.getPath());
                    }
                }
                assertEquals(1, nodeWatches.size(), "Node watches: " + nodeWatches);
            } finally {
                source.close();
            }
        }
    }
}
