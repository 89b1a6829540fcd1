package dev.ferry.source;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.convert.ClusterConverter;
import dev.ferry.model.RejectionReason;
import dev.ferry.model.Protocol;
import dev.ferry.model.ServicePort;
import dev.ferry.model.ServicePortName;
import dev.ferry.select.EndpointSelector;
import dev.ferry.select.NodeInfo;
import dev.ferry.table.ServicePortView;
import dev.ferry.table.ServiceTable;
import dev.ferry.table.TableChange;
import dev.ferry.watch.ChangeTracker;
import dev.ferry.watch.SyncPeriods;
import dev.ferry.watch.TableWriterSink;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code --source FILE} goes through the change tracker, as the API watch does: the file's objects
 * are the tracker's cache, only the Services that changed are converted and written, and the table's
 * change feed names exactly their service ports.
 */
class FileClusterTest {
    private static final Duration POLL = Duration.ofMillis(50);
    private static final Duration DEADLINE = Duration.ofSeconds(10);
    private static final SyncPeriods FAST = new SyncPeriods(Duration.ZERO, Duration.ofHours(1));

    @TempDir
    Path dir;
    private ServiceTable table;
    private FileCluster objects;
    private FileSource source;

    @BeforeEach
    void open() throws Exception {
        table = ServiceTable.create(dir.resolve("state"), 16L << 20, 1_000, System::currentTimeMillis);
        objects = new FileCluster("node-a", cache -> new ChangeTracker(cache, new TableWriterSink(table), FAST,
                new NodeInfo("node-a", "")));
    }

    @AfterEach
    void close() throws Exception {
        if (source != null) source.close();
        objects.tracker().close();
        table.close();
    }

    private static String service(String name, int port, String endpointIp) {
        return """
                apiVersion: v1
                kind: Service
                metadata: {name: %s, namespace: demo}
                spec:
                  clusterIP: 10.96.0.%d
                  ports:
                  - {name: http, port: %d}
                ---
                apiVersion: discovery.k8s.io/v1
                kind: EndpointSlice
                metadata:
                  name: %s-1
                  namespace: demo
                  labels: {kubernetes.io/service-name: %s}
                addressType: IPv4
                ports:
                - {name: http, port: 8080, protocol: TCP}
                endpoints:
                - addresses: [%s]
                  conditions: {ready: true}
                  nodeName: node-a
                ---
                """.formatted(name, port % 250 + 1, port, name, name, endpointIp);
    }

    private static void await(String what, BooleanSupplier condition) throws InterruptedException {
        long end = System.nanoTime() + DEADLINE.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > end) {
                throw new AssertionError("timed out after " + DEADLINE + " waiting for " + what);
            }
            Thread.sleep(10);
        }
    }

    private Map<ServicePortName, ServicePort> tableContents() {
        Map<ServicePortName, ServicePort> out = new TreeMap<>();
        table.reader().forEach(new ServicePortView(), v -> out.put(v.servicePortName(), v.toServicePort()));
        return out;
    }

    private static ServicePortName http(String name) {
        return new ServicePortName("demo", name, "http", Protocol.TCP);
    }

    private void start(Path f) throws Exception {
        source = new FileSource(f, POLL, ManifestReader.Limits.DEFAULTS, objects);
        objects.tracker().start();
        source.start();
        assertTrue(objects.tracker().awaitFirstSync(DEADLINE), "first sync");
        assertNull(source.current(), "the tracker, not the source, holds the converted state");
    }

    @Test
    void theFileIsWrittenByTheChangeTrackerAsTheWholeFileConversionWouldWriteIt() throws Exception {
        Path f = dir.resolve("cluster.yaml");
        Files.writeString(f, service("a", 80, "10.244.0.1") + service("b", 81, "10.244.0.2"));
        start(f);
        assertEquals(1, objects.tracker().stats().fullSyncs(), "the first load is the tracker's full sync");

        Manifest m = ManifestReader.read(f, ManifestReader.Limits.DEFAULTS);
        Map<ServicePortName, ServicePort> expected = new TreeMap<>();
        for (ServicePort sp : EndpointSelector.selectAll(ClusterConverter.convert(m.services(), m.endpointSlices()).ports(),
                new NodeInfo("node-a", ""))) {
            expected.put(sp.name(), sp);
        }
        assertEquals(expected, tableContents());
    }

    @Test
    void anEditToOneServiceWritesOnlyItAndTheFeedNamesExactlyItsServicePort() throws Exception {
        Path f = dir.resolve("cluster.yaml");
        Files.writeString(f, service("a", 80, "10.244.0.1") + service("b", 81, "10.244.0.2") + service("c", 82, "10.244.0.3"));
        start(f);
        long cursor = table.changes().latest();
        long syncs = objects.tracker().stats().syncs();

        Files.writeString(f, service("a", 80, "10.244.0.1") + service("b", 81, "10.244.0.22") + service("c", 82, "10.244.0.3"));
        await("the edit in the table", () -> tableContents().get(http("b")).endpoints().get(0).address().getHostAddress()
                .equals("10.244.0.22"));
        TableChange c = table.changes().since(cursor);
        assertFalse(c.full());
        assertEquals(Set.of(http("b")), c.changed());
        assertEquals(Set.of(), c.removed());
        assertEquals(1, objects.tracker().stats().fullSyncs(), "an edit is a partial sync of the tracker");
        assertTrue(objects.tracker().stats().syncs() > syncs);
        assertEquals(1, objects.tracker().stats().portsUpdated());

        cursor = c.to();
        Files.writeString(f, service("a", 80, "10.244.0.1") + service("b", 81, "10.244.0.22"));
        await("c removed", () -> !tableContents().containsKey(http("c")));
        TableChange gone = table.changes().since(cursor);
        assertEquals(Set.of(http("c")), gone.removed());
        assertEquals(Set.of(), gone.changed());
    }

    @Test
    void theFilesRejectionsAreTheTrackersAndABadServiceKeepsItsLastGoodEntry() throws Exception {
        Path f = dir.resolve("cluster.yaml");
        Files.writeString(f, service("a", 80, "10.244.0.1") + service("b", 81, "10.244.0.2"));
        start(f);
        // b's port becomes invalid: the tracker rejects the Service and keeps its last good entry, as for the API
        Files.writeString(f, service("a", 80, "10.244.0.1") + service("b", 81, "10.244.0.2").replace("port: 81", "port: 0"));
        await("the rejection", () -> objects.tracker().stats().rejectedObjectsNow() > 0);
        assertTrue(objects.tracker().stats().rejections(RejectionReason.INVALID_PORT) > 0,
                "counted by reason in the tracker's stats");
        assertTrue(tableContents().containsKey(http("b")), "b keeps its last good entry");
    }

    @Test
    void aLoadMarksOnlyTheServicesWhoseServiceOrSlicesChanged() throws Exception {
        Path f = dir.resolve("cluster.yaml");
        Files.writeString(f, service("a", 80, "10.244.0.1") + service("b", 81, "10.244.0.2") + service("c", 82, "10.244.0.3"));
        assertEquals(3, objects.load(ManifestReader.read(f, ManifestReader.Limits.DEFAULTS)), "the first load: every Service");
        assertEquals(0, objects.load(ManifestReader.read(f, ManifestReader.Limits.DEFAULTS)), "the same objects: none");
        Files.writeString(f, service("a", 80, "10.244.0.1") + service("b", 81, "10.244.0.9") + service("c", 82, "10.244.0.3"));
        assertEquals(1, objects.load(ManifestReader.read(f, ManifestReader.Limits.DEFAULTS)), "b's slice changed");
        Files.writeString(f, service("a", 80, "10.244.0.1") + service("b", 81, "10.244.0.9"));
        assertEquals(1, objects.load(ManifestReader.read(f, ManifestReader.Limits.DEFAULTS)), "c is gone");
        assertEquals(java.util.List.of("demo/a", "demo/b"), objects.serviceKeys().stream().sorted().toList());
        assertEquals(1, objects.slicesOf("demo/b").size());
        assertEquals(0, objects.slicesOf("demo/c").size());
    }
}
