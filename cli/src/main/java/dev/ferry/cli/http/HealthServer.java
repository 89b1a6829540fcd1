package dev.ferry.cli.http;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.ferry.cli.config.BindAddress;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * Serves kube-proxy's /healthz (sync freshness and node eligibility: the readiness probe, and what
 * cloud load balancers health-check for externalTrafficPolicy Cluster) and /livez (sync freshness
 * only: the liveness probe) from {@link ProxierHealth}; every other path is 404. Uses the JDK's
 * HTTP server on one small thread pool. Thread-safe; close() stops it.
 */
public final class HealthServer implements AutoCloseable {
    private final HttpServer server;
    private final ExecutorService threads;

    private HealthServer(HttpServer server, ExecutorService threads) {
        this.server = server;
        this.threads = threads;
    }

    /** Binds {@code address} (IOException when it cannot) and starts serving. */
    public static HealthServer start(BindAddress address, ProxierHealth health, ProxyMetrics metrics) throws IOException {
        HttpServer server = HttpServer.create(address.socketAddress(), 16);
        ExecutorService threads = Executors.newFixedThreadPool(2, r -> {
            Thread t = new Thread(r, "ferry-healthz");
            t.setDaemon(true);
            return t;
        });
        server.setExecutor(threads);
        server.createContext("/", exchange -> {
            String path = exchange.getRequestURI().getPath();
            boolean healthz = path.equals("/healthz");
            boolean livez = path.equals("/livez");
            if (!healthz && !livez) {
                respond(exchange, 404, "text/plain; charset=utf-8", "404 page not found\n");
                return;
            }
            ProxierHealth.Check c = health.check(healthz);
            if (metrics != null) {
                metrics.probe(livez, c.status());
            }
            respond(exchange, c.status(), "application/json", c.body());
        });
        DaemonThreads.start("ferry-healthz-start", () -> {
            server.start();
            return server;
        });
        return new HealthServer(server, threads);
    }

    public int port() {
        return server.getAddress().getPort();
    }

    private static void respond(HttpExchange exchange, int status, String type, String body) throws IOException {
        try (exchange) {
            byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
            exchange.getResponseHeaders().set("Content-Type", type);
            exchange.getResponseHeaders().set("X-Content-Type-Options", "nosniff");
            boolean head = exchange.getRequestMethod().equals("HEAD");
            exchange.sendResponseHeaders(status, head ? -1 : bytes.length);
            if (!head) {
                try (OutputStream out = exchange.getResponseBody()) {
                    out.write(bytes);
                }
            }
        }
    }

    @Override
    public void close() {
        server.stop(0);
        threads.shutdownNow();
    }
}
