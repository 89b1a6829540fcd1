package dev.ferry.daemon.http;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.ferry.daemon.config.BindAddress;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * Serves kube-proxy's /healthz (sync freshness and node eligibility: the readiness probe, and what
 * cloud load balancers health-check for externalTrafficPolicy Cluster) and /livez (sync freshness
 * only: the liveness probe) from {@link ProxierHealth}; every other path is 404. Uses the JDK's
 * HTTP server on one small thread pool. Thread-safe; close() stops it.
 */
public final class HealthServer implements AutoCloseable {
    /**
     * How long a probe that came before the daemon knew its health (a server bound by
     * {@link #bindEarly} without a provisional health) is held before it gets 503 "starting"; the
     * daemon exits long before when its start-up fails.
     */
    static final long HOLD_MILLIS = 10_000;

    /** What answers probes; the daemon's own from {@link #serve} on. */
    private record Answer(ProxierHealth health, ProxyMetrics metrics) {}

    private final HttpServer server;
    private final ExecutorService threads;
    private final BindAddress address;
    private final long boundAtMillis;
    private final CountDownLatch served = new CountDownLatch(1);
    private volatile Answer answer;
    /** Probes answered before {@link #serve} ([livez][status class]), counted into its metrics then. */
    private final java.util.concurrent.ConcurrentLinkedQueue<int[]> earlyProbes = new java.util.concurrent.ConcurrentLinkedQueue<>();

    private HealthServer(HttpServer server, ExecutorService threads, BindAddress address, long boundAtMillis,
                         ProxierHealth provisional) {
        this.server = server;
        this.threads = threads;
        this.address = address;
        this.boundAtMillis = boundAtMillis;
        this.answer = provisional == null ? null : new Answer(provisional, null);
    }

    /** Binds {@code address} (IOException when it cannot) and starts serving. */
    public static HealthServer start(BindAddress address, ProxierHealth health, ProxyMetrics metrics) throws IOException {
        HealthServer s = bindEarly(address, null);
        s.serve(health, metrics);
        return s;
    }

    /**
     * Binds {@code address} and answers from now on, before the daemon has its own health: from
     * {@code provisional} (what the daemon would answer at its start), or when that is null by
     * holding each probe (accepted, unanswered, at most {@link #HOLD_MILLIS}) until {@link #serve}.
     * Either way a probe during start-up is not refused. ({@code ferry run} binds this first thing,
     * before its command line is parsed; the JDK's server cannot adopt a socket bound by someone
     * else, so the server itself is what is started early.)
     */
    public static HealthServer bindEarly(BindAddress address, ProxierHealth provisional) throws IOException {
        HttpServer server = HttpServer.create(address.socketAddress(), 16);
        long boundAt = System.currentTimeMillis();
        ExecutorService threads = Executors.newFixedThreadPool(2, r -> {
            Thread t = new Thread(r, "ferry-healthz");
            t.setDaemon(true);
            return t;
        });
        server.setExecutor(threads);
        HealthServer s = new HealthServer(server, threads, address, boundAt, provisional);
        server.createContext("/", s::handle);
        DaemonThreads.start("ferry-healthz-start", () -> {
            server.start();
            return server;
        });
        return s;
    }

    /** Answers every later probe (and any held one) from the daemon's {@code health}; the first call counts. */
    public void serve(ProxierHealth health, ProxyMetrics metrics) {
        synchronized (this) {
            if (served.getCount() == 0) {
                return;
            }
            answer = new Answer(health, metrics);
            served.countDown();
        }
        if (metrics != null) {
            countEarlyProbes(metrics);
        }
    }

    private void countEarlyProbes(ProxyMetrics metrics) {
        for (int[] p; (p = earlyProbes.poll()) != null; ) {
            metrics.probe(p[0] == 1, p[1]);
        }
    }

    private void handle(HttpExchange exchange) throws IOException {
        String path = exchange.getRequestURI().getPath();
        boolean healthz = path.equals("/healthz");
        boolean livez = path.equals("/livez");
        if (!healthz && !livez) {
            respond(exchange, 404, "text/plain; charset=utf-8", "404 page not found\n");
            return;
        }
        Answer a = answer;
        if (a == null) {
            try {
                served.await(HOLD_MILLIS, TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            a = answer;
        }
        if (a == null) {
            respond(exchange, 503, "application/json", "{\"starting\": \"the daemon has not yet set up its health checks\"}");
            return;
        }
        ProxierHealth.Check c = a.health().check(healthz);
        if (a.metrics() != null) {
            a.metrics().probe(livez, c.status());
        } else {
            earlyProbes.add(new int[] {livez ? 1 : 0, c.status()});
            ProxyMetrics now = answer.metrics();
            if (now != null) {
                countEarlyProbes(now); // serve() came meanwhile
            }
        }
        respond(exchange, c.status(), "application/json", c.body());
    }

    /** The address it was asked to bind (port 0 stays 0: see {@link #port()}). */
    public BindAddress address() {
        return address;
    }

    /** When the port was bound (epoch ms): connections were accepted from then on. */
    public long boundAtMillis() {
        return boundAtMillis;
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
