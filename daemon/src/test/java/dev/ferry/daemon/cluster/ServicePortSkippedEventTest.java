package dev.ferry.daemon.cluster;

import static org.junit.jupiter.api.Assertions.*;

import dev.ferry.daemon.config.ProxyConfig;
import dev.ferry.daemon.http.ProxierHealth;
import dev.ferry.daemon.http.ProxyMetrics;
import dev.ferry.table.ServiceTable;
import io.fabric8.kubernetes.api.model.events.v1.Event;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A service port the data plane skips (its backends cannot be built) is reported where its owner
 * looks: a Warning Event on its Service, through the mock API server.
 */
class ServicePortSkippedEventTest {
    @Test
    void aSkippedServicePortIsAWarningEventOnItsService() throws Exception {
        try (MockApi api = MockApi.start()) {
            ClusterSource source = ClusterSource.create(api.client().getConfiguration(), "mock", "node-a",
                    ProxyConfig.defaults(), update -> new ServiceTable.SyncResult(0, 0, 0, 0, List.of()),
                    new ProxierHealth(Duration.ofMinutes(1), System::currentTimeMillis), new ProxyMetrics());
            try {
                source.start();
                source.servicePortSkipped("shop/cart:http/TCP", "Maglev table size 65537 is smaller than the 65538 backends");
                Event e = null;
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                while (e == null && System.nanoTime() < deadline) {
                    e = api.client().events().v1().events().inNamespace("shop").list().getItems().stream()
                            .filter(x -> "FailedToProxyServicePort".equals(x.getReason())).findFirst().orElse(null);
                    if (e == null) {
                        Thread.sleep(100);
                    }
                }
                assertNotNull(e, "no FailedToProxyServicePort event in namespace shop");
                assertEquals("Warning", e.getType());
                assertEquals("Service", e.getRegarding().getKind());
                assertEquals("cart", e.getRegarding().getName());
                assertEquals("shop", e.getRegarding().getNamespace());
                assertEquals("shop/cart:http/TCP: Maglev table size 65537 is smaller than the 65538 backends", e.getNote());
            } finally {
                source.close();
            }
        }
    }
}
