package dev.ferry.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * `ferry run` in userspace mode with a listener budget too small for its Services (issue 13,
 * finding 5): the frontends past it are not served, and the daemon says so — /healthz names them
 * and stays 200 (one Service's ports must not take the node out of every load balancer), /metrics
 * counts them — while what fits is served.
 */
class ProxyBoundsDaemonTest {
    @TempDir
    Path dir;

    private static int freePort() throws Exception {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    private static HttpResponse<String> get(String url) throws Exception {
        return HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build().send(HttpRequest.newBuilder(URI.create(url))
                .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void frontendsPastTheListenerBudgetAreNamedInHealthzAndCountedInMetrics() throws Exception {
        int healthz = freePort();
        int metrics = freePort();
        // One event loop per core, at least two here: a TCP frontend takes a socket per loop, so with a
        // budget of one only the UDP frontend of kube-dns (one socket) fits; every TCP frontend of the
        // demo is refused.
        try (DaemonProcess d = DaemonProcess.start(dir.resolve("bounds.log"), "run", "--demo", "--state-dir",
                dir.resolve("state").toString(), "--proxy-max-listeners", "1", "--proxy-transport", "epoll",
                "--healthz-bind-address", "127.0.0.1:" + healthz, "--metrics-bind-address", "127.0.0.1:" + metrics)) {
            d.await("the refusal is logged", 60_000, () -> d.output().contains("[listeners]"));
            // 503 "starting" until the proxy took in the first table (the refusal is logged while it does)
            d.await("/healthz answers 200", 30_000, () -> {
                try {
                    return get("http://127.0.0.1:" + healthz + "/healthz").statusCode() == 200;
                } catch (Exception e) {
                    return false;
                }
            });
            HttpResponse<String> h = get("http://127.0.0.1:" + healthz + "/healthz");
            assertEquals(200, h.statusCode(), h.body());
            assertTrue(h.body().contains("\"degraded\": [\"listener budget: ") && h.body().contains("default/web: TCP 127.0.20.1:8080"),
                    h.body());
            String m = get("http://127.0.0.1:" + metrics + "/metrics").body();
            assertTrue(m.contains("ferry_userspace_limit{resource=\"listener_sockets\"} 1.0"), m);
            assertTrue(m.contains("ferry_userspace_in_use{resource=\"listener_sockets\"} 1.0"), m);
            assertTrue(m.lines().anyMatch(l -> l.startsWith("ferry_userspace_refused_total{reason=\"listeners\"} ")
                    && !l.endsWith(" 0.0")), m);
            assertTrue(m.contains("ferry_process_max_fds "), m);
            assertEquals(1, d.output().lines().filter(l -> l.contains("[listeners]")).count(), d.output());
            assertEquals(0, d.terminate(), d.output());
        }
    }
}
