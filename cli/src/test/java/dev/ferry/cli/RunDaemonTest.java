package dev.ferry.cli;

import static org.junit.jupiter.api.Assertions.*;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** `ferry run` as a real process, read by `ferry dump` from this (another) process through the mapped file. */
class RunDaemonTest {
    @TempDir
    Path dir;

    private static boolean dumpShows(Path state, String... needles) {
        Cli r = Cli.run("dump", "services", "--state-dir", state.toString());
        if (r.exit() != 0 || !r.err().isEmpty()) return false;
        for (String n : needles) if (!r.out().contains(n)) return false;
        return true;
    }

    @Test
    void theDemoServesItsTableToDumpAndItsBackendsAnswer() throws Exception {
        Path state = dir.resolve("state");
        try (DaemonProcess d = DaemonProcess.start(dir.resolve("demo.log"), "run", "--demo", "--state-dir", state.toString())) {
            d.await("the demo table", 60_000, () -> dumpShows(state, "default", "web", "shop", "kube-dns"));
            Cli services = Cli.run("dump", "services", "--state-dir", state.toString());
            assertTrue(services.out().contains("127.0.20.1") && services.out().contains("LoadBalancer")
                    && services.out().contains("ExternalName") && services.out().contains("Headless"), services.toString());
            d.await("the demo backends", 30_000, () -> d.output().contains("demo backend listening on 127.0.10.2:18080"));
            HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
            HttpResponse<String> resp = http.send(HttpRequest.newBuilder(URI.create("http://127.0.10.2:18080/"))
                    .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(200, resp.statusCode());
            assertTrue(resp.body().contains("127.0.10.2:18080") && resp.body().contains("default/web"), resp.body());

            // Traffic to the ClusterIP goes through Ferry's userspace proxy, balanced over the two ready backends.
            java.util.Set<String> reached = new java.util.TreeSet<>();
            for (int i = 0; i < 8; i++) {
                String body = httpFrom("127.0.0.1", "127.0.20.1", 8080);
                assertTrue(body.contains("default/web"), body);
                reached.add(body.substring(body.indexOf("127.0.10."), body.indexOf(":18080")));
            }
            assertEquals(java.util.Set.of("127.0.10.1", "127.0.10.2"), reached, "rr over the ready endpoints, never the terminating one");

            // ferry explain predicts the backend a client gets (shop: mh + ClientIP affinity); real traffic agrees,
            // and afterwards explain shows the affinity entry.
            for (int c = 2; c <= 5; c++) {
                String client = "127.0.0." + c;
                java.util.Map<?, ?> before = explainJson(state, client, "127.0.20.2:8081/TCP");
                String predicted = before.get("backend").toString();
                String body = httpFrom(client, "127.0.20.2", 8081);
                assertTrue(body.contains(predicted), client + ": explain said " + predicted + ", traffic reached: " + body + "\n" + before);
                java.util.Map<?, ?> after = explainJson(state, client, "127.0.20.2:8081/TCP");
                assertEquals(predicted, after.get("backend"), after.toString());
                assertTrue(after.get("why").toString().startsWith("ClientIP affinity entry"), after.toString());
            }

            // The LB service is externalTrafficPolicy Local: its health check port says this node can serve it.
            HttpResponse<String> hc = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:32000/"))
                    .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(200, hc.statusCode(), hc.body());
            assertTrue(hc.body().contains("\"localEndpoints\": 1"), hc.body());

            assertEquals(0, d.terminate(), d.output());
            Cli after = Cli.run("dump", "services", "--state-dir", state.toString());
            assertEquals(0, after.exit(), after.toString());
            assertTrue(after.err().contains("STALE"), "a stopped daemon's table must not look live: " + after);
        }
    }

    @Test
    void proxyTransportOptsOutOfIoUringAndTrafficStillFlows() throws Exception {
        Path state = dir.resolve("state");
        try (DaemonProcess d = DaemonProcess.start(dir.resolve("nio.log"), "run", "--demo", "--proxy-transport", "nio",
                "--state-dir", state.toString())) {
            d.await("the demo backends", 60_000, () -> d.output().contains("demo backend listening on 127.0.10.2:18080"));
            d.await("the proxy on NIO", 30_000, () -> d.output().contains("userspace proxy on nio transport (asked for nio)"));
            String body = null;
            long deadline = System.nanoTime() + 30_000_000_000L;
            while (System.nanoTime() < deadline) {
                try {
                    body = httpFrom("127.0.0.1", "127.0.20.1", 8080);
                    break;
                } catch (java.io.IOException notListeningYet) {
                    Thread.sleep(200);
                }
            }
            assertTrue(body != null && body.contains("default/web"), body + "\n" + d.output());
        }
    }

    @Test
    void aBrokenEditKeepsTheLastGoodTableAndAFixedOneIsPickedUp() throws Exception {
        Path state = dir.resolve("state");
        Path src = dir.resolve("cluster.yaml");
        Files.writeString(src, service("alpha", "10.96.0.1"));
        try (DaemonProcess d = DaemonProcess.start(dir.resolve("file.log"), "run", "--source", src.toString(), "--mode", "table-only",
                "--state-dir", state.toString())) {
            d.await("alpha in the table", 60_000, () -> dumpShows(state, "alpha"));
            Files.writeString(src, service("alpha", "10.96.0.1") + "---\nkind: Service\nspec: [unclosed\n");
            d.await("the parse error to be reported", 30_000, () -> d.output().contains("cluster.yaml"));
            assertTrue(dumpShows(state, "alpha"), "the last good table is kept");
            Files.writeString(src, service("alpha", "10.96.0.1") + "---\n" + service("beta", "10.96.0.2"));
            d.await("beta in the table", 30_000, () -> dumpShows(state, "alpha", "beta"));
        }
    }

    /** One HTTP/1.0 request from a chosen loopback source address; returns the whole response. */
    static String httpFrom(String source, String ip, int port) throws Exception {
        try (java.net.Socket s = new java.net.Socket()) {
            s.bind(new java.net.InetSocketAddress(source, 0));
            s.connect(new java.net.InetSocketAddress(ip, port), 5_000);
            s.setSoTimeout(5_000);
            s.getOutputStream().write(("GET / HTTP/1.0\r\nHost: " + ip + "\r\n\r\n").getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            return new String(s.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        }
    }

    static java.util.Map<?, ?> explainJson(Path state, String from, String dst) throws Exception {
        Cli r = Cli.run("explain", "--from", from, dst, "-o", "json", "--state-dir", state.toString());
        assertEquals(0, r.exit(), r.toString());
        return tools.jackson.databind.json.JsonMapper.builder().build().readValue(r.out(), java.util.Map.class);
    }

    static String service(String name, String ip) {
        return """
                apiVersion: v1
                kind: Service
                metadata: {name: %s, namespace: default}
                spec:
                  clusterIP: %s
                  ports:
                  - {name: http, port: 80, targetPort: 8080}
                """.formatted(name, ip);
    }
}
