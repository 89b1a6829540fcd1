package dev.ferry.daemon.http;

import static org.junit.jupiter.api.Assertions.*;

import dev.ferry.daemon.config.BindAddress;
import dev.ferry.model.Rejection;
import dev.ferry.model.RejectionReason;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** /healthz, /livez and /metrics over real HTTP on loopback. */
@Tag("unit")
class StatusServersTest {
    static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    static HttpResponse<String> get(int port, String path) throws Exception {
        return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).timeout(Duration.ofSeconds(10)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    @Test
    void healthzAndLivezAnswerWithKubeProxysStatusAndBodyAndAreCounted() throws Exception {
        AtomicLong now = new AtomicLong(1_764_408_000_000L);
        ProxierHealth health = new ProxierHealth(Duration.ofSeconds(60), now::get);
        ProxyMetrics metrics = new ProxyMetrics();
        try (HealthServer server = HealthServer.start(new BindAddress(java.net.InetAddress.getLoopbackAddress(), 0), health, metrics);
             MetricsServer m = MetricsServer.start(new BindAddress(java.net.InetAddress.getLoopbackAddress(), 0), metrics)) {
            HttpResponse<String> ok = get(server.port(), "/healthz");
            assertEquals(200, ok.statusCode());
            assertEquals("application/json", ok.headers().firstValue("Content-Type").orElse(""));
            assertTrue(ok.body().contains("\"nodeEligible\": true"), ok.body());
            health.queuedUpdate();
            now.addAndGet(61_000);
            assertEquals(503, get(server.port(), "/healthz").statusCode());
            HttpResponse<String> livez = get(server.port(), "/livez");
            assertEquals(503, livez.statusCode());
            assertTrue(livez.body().startsWith("{\"lastUpdated\": ") && !livez.body().contains("nodeEligible"), livez.body());
            assertEquals(404, get(server.port(), "/healthz/extra").statusCode());
            assertEquals(404, get(server.port(), "/metrics").statusCode());

            String exposition = get(m.port(), "/metrics").body();
            assertTrue(exposition.contains("kubeproxy_proxy_healthz_total{code=\"200\"} 1"), exposition);
            assertTrue(exposition.contains("kubeproxy_proxy_healthz_total{code=\"503\"} 1"), exposition);
            assertTrue(exposition.contains("kubeproxy_proxy_livez_total{code=\"503\"} 1"), exposition);
        }
    }

    @Test
    void metricsCarryKubeProxysNamesAndFerrysOwnWithHdrHistogramBuckets() throws Exception {
        ProxyMetrics metrics = new ProxyMetrics();
        metrics.syncQueued(1_764_408_000_000L);
        metrics.syncDone(3_000_000, true, 1_764_408_001_000L);     // 3 ms, full
        metrics.syncDone(20_000_000, false, 1_764_408_002_500L);   // 20 ms, partial
        metrics.networkProgrammed(1_200_000_000L);                  // 1.2 s
        metrics.rejections(List.of(
                new Rejection("Service", "default", "a", "spec.ports[0].port", RejectionReason.INVALID_PORT, "bad"),
                new Rejection("Service", "default", "b", "spec.ports[0].port", RejectionReason.INVALID_PORT, "bad"),
                new Rejection("EndpointSlice", "default", "c", "metadata.labels", RejectionReason.MISSING_SERVICE_LABEL, "x")));
        metrics.tableStats(7, 21, 4096, 9);
        metrics.tableWriteErrors(2);
        metrics.fileSource(() -> 3);
        try (MetricsServer m = MetricsServer.start(new BindAddress(java.net.InetAddress.getLoopbackAddress(), 0), metrics)) {
            HttpResponse<String> r = get(m.port(), "/metrics");
            assertEquals(200, r.statusCode());
            String text = r.body();
            for (String line : List.of(
                    "kubeproxy_sync_proxy_rules_duration_seconds_bucket{le=\"0.002\"} 0",
                    "kubeproxy_sync_proxy_rules_duration_seconds_bucket{le=\"0.004\"} 1",
                    "kubeproxy_sync_proxy_rules_duration_seconds_bucket{le=\"0.032\"} 2",
                    "kubeproxy_sync_proxy_rules_duration_seconds_bucket{le=\"+Inf\"} 2",
                    "kubeproxy_sync_proxy_rules_duration_seconds_count 2",
                    "kubeproxy_sync_proxy_rules_duration_seconds_sum 0.023",
                    "kubeproxy_sync_full_proxy_rules_duration_seconds_count 1",
                    "kubeproxy_sync_partial_proxy_rules_duration_seconds_count 1",
                    "kubeproxy_network_programming_duration_seconds_bucket{le=\"1.0\"} 0",
                    "kubeproxy_network_programming_duration_seconds_bucket{le=\"2.0\"} 1",
                    "kubeproxy_sync_proxy_rules_last_timestamp_seconds 1.7644080025E9",
                    "kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds 1.764408E9",
                    "ferry_rejected_objects{kind=\"Service\",reason=\"InvalidPort\"} 2.0",
                    "ferry_rejected_objects{kind=\"EndpointSlice\",reason=\"MissingServiceLabel\"} 1.0",
                    "ferry_service_table_service_ports 7.0",
                    "ferry_service_table_endpoints 21.0",
                    "ferry_service_table_bytes_in_use 4096.0",
                    "ferry_service_table_generation 9.0",
                    "ferry_service_table_write_errors_total 2.0",
                    "ferry_file_source_errors_total 3.0")) {
                assertTrue(text.lines().anyMatch(l -> l.equals(line)), "missing line: " + line + "\n" + text);
            }
            metrics.rejections(List.of());
            String after = get(m.port(), "/metrics").body();
            assertTrue(after.contains("ferry_rejected_objects{kind=\"Service\",reason=\"InvalidPort\"} 0.0"),
                    "a fixed object no longer counts: " + after);
        }
    }

    @Test
    void aBusyAddressIsRetriedInsteadOfStoppingTheDaemon() throws Exception {
        try (ServerSocket busy = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            ProxierHealth health = new ProxierHealth(Duration.ofSeconds(60), System::currentTimeMillis);
            try (StatusServers servers = new StatusServers(BindAddress.parse("127.0.0.1:" + busy.getLocalPort(), 10256), health,
                    BindAddress.parse("127.0.0.1:" + freePort(), 10249), new ProxyMetrics())) {
                assertFalse(servers.listening(), "the health port is taken");
            }
        }
    }
}
