package dev.ferry.source;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.convert.RejectionReason;
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

    private static boolean watchThreadAlive() {
        return Thread.getAllStackTraces().keySet().stream().anyMatch(t -> t.getName().equals("ferry-file-source") && t.isAlive());
    }
}
