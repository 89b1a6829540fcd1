package dev.ferry.source;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.model.RejectionReason;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.BooleanSupplier;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FileSourceTest {
    private static final Duration POLL = Duration.ofMillis(50);
    private static final Duration DEADLINE = Duration.ofSeconds(10);

    @TempDir
    Path dir;

    private final List<Snapshot> delivered = new CopyOnWriteArrayList<>();
    private FileSource source;

    @AfterEach
    void stop() {
        if (source != null) {
            source.close();
        }
    }

    private static String service(String name, int port) {
        return """
                apiVersion: v1
                kind: Service
                metadata: {name: %s, namespace: demo}
                spec:
                  clusterIP: 10.96.0.%d
                  ports:
                  - port: %d
                ---
                """.formatted(name, port % 250 + 1, port);
    }

    private Path write(String name, String content) throws IOException {
        Path p = dir.resolve(name);
        Files.writeString(p, content);
        return p;
    }

    private static void await(String what, BooleanSupplier condition) throws InterruptedException {
        long end = System.nanoTime() + DEADLINE.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > end) {
                throw new AssertionError("timed out after " + DEADLINE + " waiting for " + what);
            }
            Thread.sleep(20);
        }
    }

    private List<String> lastPorts() {
        return delivered.get(delivered.size() - 1).ports().stream().map(p -> p.name() + "=" + p.port())
                .collect(Collectors.toList());
    }

    @Test
    void initialLoadIsDeliveredBeforeStartReturns() throws Exception {
        Path f = write("svc.yaml", service("a", 80));
        source = new FileSource(f, POLL, delivered::add);
        source.start();
        assertEquals(1, delivered.size());
        assertEquals(List.of("demo/a=80"), lastPorts());
        assertSame(delivered.get(0), source.current());
        assertNull(source.lastError());
    }

    @Test
    void missingFileAtStartIsAnError() {
        source = new FileSource(dir.resolve("absent.yaml"), POLL, delivered::add);
        ManifestException e = assertThrows(ManifestException.class, source::start);
        assertTrue(e.getMessage().endsWith("absent.yaml: no such file"), e.getMessage());
        assertEquals(List.of(), delivered);
        assertEquals(1, source.errorCount());
    }

    @Test
    void brokenFileAtStartIsAnErrorWithItsLine() throws Exception {
        Path f = write("svc.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec:\n  ports:\n  - port: http\n");
        source = new FileSource(f, POLL, delivered::add);
        ManifestException e = assertThrows(ManifestException.class, source::start);
        assertEquals(f + ":6:11: spec.ports[0].port: expected an integer, got \"http\"", e.getMessage());
        assertEquals(List.of(), delivered);
    }

    @Test
    void editIsPickedUp() throws Exception {
        Path f = write("svc.yaml", service("a", 80));
        source = new FileSource(f, POLL, delivered::add);
        source.start();
        Files.writeString(f, service("a", 80) + service("b", 8080));
        await("the edit", () -> delivered.size() == 2);
        assertEquals(List.of("demo/a=80", "demo/b=8080"), lastPorts());
        assertEquals(2, source.current().generation());
    }

    @Test
    void brokenEditKeepsThePreviousSnapshotAndReportsLineAndField() throws Exception {
        Path f = write("svc.yaml", service("a", 80));
        source = new FileSource(f, POLL, delivered::add);
        source.start();
        Snapshot good = source.current();

        Files.writeString(f, service("a", 80) + "apiVersion: v1\nkind: Service\nmetadata: {name: b}\nspec:\n  ports:\n  - port: http\n");
        await("the error", () -> source.errorCount() == 1);
        assertEquals(1, delivered.size(), "a broken file must not reach the consumer");
        assertSame(good, source.current());
        assertEquals(f + ":14:11: spec.ports[0].port: expected an integer, got \"http\"", source.lastError().getMessage());

        Files.writeString(f, service("a", 80) + service("b", 8080));
        await("the fixed file", () -> delivered.size() == 2);
        assertEquals(List.of("demo/a=80", "demo/b=8080"), lastPorts());
        assertNull(source.lastError());
        assertEquals(1, source.errorCount());
    }

    @Test
    void truncatedOrDeletedFileKeepsThePreviousSnapshot() throws Exception {
        String full = service("a", 80) + "apiVersion: v1\nkind: Service\nmetadata: {name: b, annotations: {x: \"long value\"}}\n";
        Path f = write("svc.yaml", full);
        source = new FileSource(f, POLL, delivered::add);
        source.start();
        Files.writeString(f, full.substring(0, full.indexOf("long")));
        await("the truncation error", () -> source.errorCount() == 1);
        Files.delete(f);
        await("the missing-file error", () -> source.errorCount() == 2);
        assertTrue(source.lastError().getMessage().endsWith("no such file"), source.lastError().getMessage());
        assertEquals(1, delivered.size());
        assertEquals(1, source.current().generation());
    }

    @Test
    void fileReplacedByRenameIsPickedUp() throws Exception {
        Path f = write("svc.yaml", service("a", 80));
        source = new FileSource(f, POLL, delivered::add);
        source.start();
        Path tmp = write(".svc.yaml.swp", service("a", 81));
        Files.move(tmp, f, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        await("the renamed file", () -> delivered.size() == 2);
        assertEquals(List.of("demo/a=81"), lastPorts());
    }

    @Test
    void rejectedServiceDoesNotBlockTheGoodOnes() throws Exception {
        Path f = write("svc.yaml", service("a", 80) + service("bad", 70000) + service("c", 82));
        source = new FileSource(f, POLL, delivered::add);
        source.start();
        assertEquals(List.of("demo/a=80", "demo/c=82"), lastPorts());
        Snapshot s = source.current();
        assertEquals(1, s.rejections().size());
        assertEquals(RejectionReason.INVALID_PORT, s.rejections().get(0).reason());
        assertEquals(1, source.rejectionCount());
        assertNull(source.lastError(), "object rejections are not a file error");
    }

    @Test
    void closeStopsTheWatchThread() throws Exception {
        Path f = write("svc.yaml", service("a", 80));
        source = new FileSource(f, POLL, delivered::add);
        source.start();
        assertTrue(watchThreadAlive());
        source.close();
        // The executor reports termination as its worker returns; the thread object dies a moment later.
        long deadline = System.currentTimeMillis() + 5_000;
        while (watchThreadAlive() && System.currentTimeMillis() < deadline) {
            Thread.sleep(10);
        }
        assertFalse(watchThreadAlive());
    }

    @Test
    void consumerFailureDoesNotStopWatching() throws Exception {
        Path f = write("svc.yaml", service("a", 80));
        source = new FileSource(f, POLL, s -> {
            delivered.add(s);
            if (s.generation() == 2) {
                throw new IllegalStateException("consumer bug");
            }
        });
        source.start();
        Files.writeString(f, service("a", 81));
        await("generation 2", () -> delivered.size() == 2);
        Files.writeString(f, service("a", 82) + service("b", 83));
        await("generation 3", () -> delivered.size() == 3);
        assertNotNull(source.current());
    }

    @Test
    void emptiedFileKeepsThePreviousSnapshotUntilItIsWrittenAgain() throws Exception {
        Path f = write("svc.yaml", service("a", 80) + service("b", 81));
        source = new FileSource(f, POLL, delivered::add);
        source.start();
        Files.write(f, new byte[0]); // an editor truncates first, then writes
        await("the empty file to be noticed", source::waitingForContent);
        assertEquals(1, delivered.size(), "a 0-byte file is not an empty service list: nothing is delivered");
        assertEquals(List.of("demo/a=80", "demo/b=81"), source.current().ports().stream()
                .map(p -> p.name() + "=" + p.port()).collect(Collectors.toList()));
        assertEquals(0, source.errorCount(), "not written yet is not an error");
        Files.writeString(f, service("a", 80) + service("b", 82));
        await("the rewritten file", () -> delivered.size() == 2);
        assertEquals(List.of("demo/a=80", "demo/b=82"), lastPorts());
        assertFalse(source.waitingForContent());
    }

    @Test
    void emptiedFileRewrittenWithTheSameContentDeliversNothing() throws Exception {
        Path f = write("svc.yaml", service("a", 80));
        source = new FileSource(f, POLL, delivered::add);
        source.start();
        Files.write(f, new byte[0]);
        await("the empty file to be noticed", source::waitingForContent);
        Files.writeString(f, service("a", 80) + "# saved again\n");
        await("the new content", () -> delivered.size() == 2);
        Files.write(f, new byte[0]);
        await("the second truncation", source::waitingForContent);
        Files.writeString(f, service("a", 80) + "# saved again\n");
        await("the same content again", () -> !source.waitingForContent());
        assertEquals(2, delivered.size(), "identical content after a truncation is not delivered again");
    }

    @Test
    void emptyFileAtStartWaitsForContent() throws Exception {
        Path f = write("svc.yaml", "");
        source = new FileSource(f, POLL, delivered::add);
        source.start();
        assertTrue(source.waitingForContent());
        assertNull(source.current());
        assertEquals(0, delivered.size());
        Files.writeString(f, service("a", 80));
        await("the first content", () -> delivered.size() == 1);
        assertEquals(List.of("demo/a=80"), lastPorts());
    }

    @Test
    void explicitEmptyListClearsTheTable() throws Exception {
        Path f = write("svc.yaml", service("a", 80));
        source = new FileSource(f, POLL, delivered::add);
        source.start();
        Files.writeString(f, "apiVersion: v1\nkind: List\nitems: []\n");
        await("the empty list", () -> delivered.size() == 2);
        assertEquals(List.of(), lastPorts());
        assertFalse(source.waitingForContent());
    }

    @Test
    void aliasBombKeepsTheLastGoodTableAndNamesItsLine() throws Exception {
        Path f = write("svc.yaml", service("a", 80));
        source = new FileSource(f, POLL, delivered::add);
        source.start();
        Files.writeString(f, ManifestReaderTest.aliasBomb(50)); // 2^51 nodes once expanded, 1.4 KB written
        await("the refusal", () -> source.errorCount() == 1);
        ManifestException e = source.lastError();
        assertTrue(e.getMessage().startsWith(f + ":17:"), e.getMessage());
        assertTrue(e.getMessage().endsWith("refusing it as an alias bomb"), e.getMessage());
        assertEquals(1, delivered.size());
        assertEquals(1, source.current().generation(), "the last good snapshot stays");
    }

    @Test
    void fileLargerThanTheLimitKeepsTheLastGoodTable() throws Exception {
        Path f = write("svc.yaml", service("a", 80));
        source = new FileSource(f, POLL, ManifestReader.Limits.DEFAULTS.withMaxBytes(1024), delivered::add);
        source.start();
        Files.writeString(f, service("a", 80) + "#".repeat(2000) + "\n");
        await("the refusal", () -> source.errorCount() == 1);
        assertTrue(source.lastError().getMessage().contains("larger than the limit of 1024 bytes"), source.lastError().getMessage());
        assertEquals(1, delivered.size());
    }

    @Test
    void failedApplyIsCountedAndTheSameContentIsAppliedAgain() throws Exception {
        Path f = write("svc.yaml", service("a", 80));
        List<Snapshot> attempts = new CopyOnWriteArrayList<>();
        source = new FileSource(f, POLL, s -> {
            attempts.add(s);
            if (attempts.size() == 2) {
                throw new java.util.concurrent.CompletionException(new IllegalStateException("service table full"));
            }
            delivered.add(s);
        });
        source.start();
        Files.writeString(f, service("a", 81));
        await("the failed apply", () -> source.deliveryFailures() == 1);
        assertEquals(1, source.current().generation(), "a snapshot that was not applied does not become current");
        await("the retry", () -> delivered.size() == 2);
        assertEquals(List.of("demo/a=81"), lastPorts());
        assertEquals(1, source.deliveryFailures());
        assertEquals(0, source.errorCount(), "the file itself was fine");
    }

    @Test
    void objectsLabelledForAnotherProxyAreLeftOutAsTheApiWatchLeavesThemOut() throws Exception {
        // The same objects as ClusterWatcherTest.labelFiltersLeaveOutProxyNameAndHeadlessLabelledServicesButKeepHeadlessServicesForDns
        Path f = write("svc.yaml", """
                apiVersion: v1
                kind: List
                items:
                - {apiVersion: v1, kind: Service, metadata: {name: plain, namespace: default},
                   spec: {clusterIP: 10.96.2.1, ports: [{name: http, port: 80, targetPort: 8080}]}}
                - apiVersion: discovery.k8s.io/v1
                  kind: EndpointSlice
                  metadata: {name: plain-1, namespace: default, labels: {kubernetes.io/service-name: plain}}
                  addressType: IPv4
                  ports: [{name: http, port: 8080}]
                  endpoints: [{addresses: [10.3.0.1]}]
                - apiVersion: discovery.k8s.io/v1
                  kind: EndpointSlice
                  metadata:
                    name: plain-2
                    namespace: default
                    labels: {kubernetes.io/service-name: plain, service.kubernetes.io/service-proxy-name: another-proxy}
                  addressType: IPv4
                  ports: [{name: http, port: 8080}]
                  endpoints: [{addresses: [10.3.0.9]}]
                - apiVersion: v1
                  kind: Service
                  metadata: {name: other, namespace: default, labels: {service.kubernetes.io/service-proxy-name: another-proxy}}
                  spec: {clusterIP: 10.96.2.2, ports: [{name: http, port: 80}]}
                - apiVersion: v1
                  kind: Service
                  metadata: {name: marked, namespace: default, labels: {service.kubernetes.io/headless: ""}}
                  spec: {clusterIP: 10.96.2.3, ports: [{name: http, port: 80}]}
                - {apiVersion: v1, kind: Service, metadata: {name: dns, namespace: default},
                   spec: {clusterIP: None, ports: [{name: http, port: 80, targetPort: 8080}]}}
                - apiVersion: discovery.k8s.io/v1
                  kind: EndpointSlice
                  metadata:
                    name: dns-1
                    namespace: default
                    labels: {kubernetes.io/service-name: dns, service.kubernetes.io/headless: ""}
                  addressType: IPv4
                  ports: [{name: http, port: 8080}]
                  endpoints: [{addresses: [10.3.0.4]}]
                """);
        source = new FileSource(f, POLL, delivered::add);
        source.start();
        Snapshot s = source.current();
        assertEquals(List.of("default/dns:http", "default/plain:http"), s.ports().stream().map(p -> p.name().toString()).toList());
        assertEquals(List.of(), s.rejections(), "left out, not rejected");
        assertEquals(List.of("10.3.0.1:8080"), s.ports().get(1).endpoints().stream().map(e -> e.hostPort()).toList(),
                "a slice labelled for another proxy adds no endpoints");
        assertTrue(s.ports().get(0).headless());
        assertEquals(List.of("10.3.0.4:8080"), s.ports().get(0).endpoints().stream().map(e -> e.hostPort()).toList(),
                "a headless service's slices still feed DNS, as from the API");
    }

    private static boolean watchThreadAlive() {
        return Thread.getAllStackTraces().keySet().stream().anyMatch(t -> t.getName().equals("ferry-file-source") && t.isAlive());
    }
}
