package dev.ferry.daemon.http;

import dev.ferry.daemon.config.BindAddress;
import io.prometheus.metrics.exporter.httpserver.HTTPServer;
import java.io.IOException;

/**
 * Serves {@link ProxyMetrics} in the Prometheus text format on /metrics (kube-proxy's
 * metricsBindAddress, 127.0.0.1:10249 by default), through the Prometheus Java client's exporter.
 * Thread-safe; close() stops it.
 */
public final class MetricsServer implements AutoCloseable {
    private final HTTPServer server;

    private MetricsServer(HTTPServer server) {
        this.server = server;
    }

    /** Binds {@code address} (IOException when it cannot) and starts serving. */
    public static MetricsServer start(BindAddress address, ProxyMetrics metrics) throws IOException {
        return new MetricsServer(DaemonThreads.start("ferry-metrics-start", () -> HTTPServer.builder()
                .inetAddress(address.address()).port(address.port()).registry(metrics.registry()).buildAndStart()));
    }

    public int port() {
        return server.getPort();
    }

    @Override
    public void close() {
        server.close();
    }
}
