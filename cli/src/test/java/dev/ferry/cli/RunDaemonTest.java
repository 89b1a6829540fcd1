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

            assertEquals(0, d.terminate(), d.output());
            Cli after = Cli.run("dump", "services", "--state-dir", state.toString());
            assertEquals(0, after.exit(), after.toString());
            assertTrue(after.err().contains("STALE"), "a stopped daemon's table must not look live: " + after);
        }
    }

    @Test
    void aBrokenEditKeepsTheLastGoodTableAndAFixedOneIsPickedUp() throws Exception {
        Path state = dir.resolve("state");
        Path src = dir.resolve("cluster.yaml");
        Files.writeString(src, service("alpha", "10.96.0.1"));
        try (DaemonProcess d = DaemonProcess.start(dir.resolve("file.log"), "run", "--source", src.toString(),
                "--state-dir", state.toString())) {
            d.await("alpha in the table", 60_000, () -> dumpShows(state, "alpha"));
            Files.writeString(src, service("alpha", "10.96.0.1") + "---\nkind: Service\nspec: [unclosed\n");
            d.await("the parse error to be reported", 30_000, () -> d.output().contains("cluster.yaml"));
            assertTrue(dumpShows(state, "alpha"), "the last good table is kept");
            Files.writeString(src, service("alpha", "10.96.0.1") + "---\n" + service("beta", "10.96.0.2"));
            d.await("beta in the table", 30_000, () -> dumpShows(state, "alpha", "beta"));
        }
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
