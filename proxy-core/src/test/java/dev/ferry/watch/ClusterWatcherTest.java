package dev.ferry.watch;

import static dev.ferry.watch.ApiObjects.clusterIp;
import static dev.ferry.watch.ApiObjects.service;
import static dev.ferry.watch.ApiObjects.slice;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.convert.RejectionReason;
import dev.ferry.model.Endpoint;
import dev.ferry.model.Protocol;
import dev.ferry.model.ServicePort;
import dev.ferry.model.ServicePortName;
import dev.ferry.table.ServiceTable;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The watcher against fabric8's mock API server in CRUD mode, writing a real ServiceTable. */
class ClusterWatcherTest {
    private static final SyncPeriods FAST = new SyncPeriods(Duration.ZERO, Duration.ofSeconds(30));

    @TempDir
    Path dir;

    private KubernetesCrudDispatcher dispatcher;
    private KubernetesMockServer server;
    private KubernetesClient client;
    private ServiceTable table;
    private RecordingSink sink;
    private ClusterWatcher watcher;

    @BeforeEach
    void setUp() throws Exception {
        dispatcher = new KubernetesCrudDispatcher();
        server = newServer(dispatcher);
        server.init();
        client = server.createClient();
        table = ServiceTable.create(dir);
        sink = new RecordingSink(table);
    }

    @AfterEach
    void tearDown() throws Exception {
        if (watcher != null) {
            watcher.close();
        }
        client.close();
        server.destroy();
        table.close();
    }

    private static KubernetesMockServer newServer(KubernetesCrudDispatcher dispatcher) {
        return new KubernetesMockServer(new Context(), new MockWebServer(), new HashMap<>(), dispatcher, false);
    }

    private void startWatcher() throws InterruptedException {
        watcher = new ClusterWatcher(client, "node-a", FAST, sink);
        watcher.start();
        assertTrue(watcher.awaitFirstSync(Duration.ofSeconds(20)), "first sync within 20 s");
    }

    private static ServicePortName http(String ns, String name) {
        return new ServicePortName(ns, name, "http", Protocol.TCP);
    }

    private Set<String> endpointsOf(ServicePortName n) {
        ServicePort sp = sink.contents().get(n);
        Set<String> out = new TreeSet<>();
        if (sp != null) {
            for (Endpoint e : sp.endpoints()) {
                out.add(e.hostPort());
            }
        }
        return out;
    }

    @Test
    void addUpdateAndDeleteOfServicesAndSlicesReachTheTable() throws Exception {
        client.resource(clusterIp("default", "web", "10.96.0.10")).create();
        client.resource(slice("default", "web", "web-1", "10.1.0.1")).create();
        startWatcher();
        assertEquals(Set.of("10.1.0.1:8080"), endpointsOf(http("default", "web")));
        assertTrue(sink.contents().get(http("default", "web")).endpoints().get(0).clusterTraffic(),
                "endpoint selected for cluster traffic");

        client.resource(slice("default", "web", "web-1", "10.1.0.1", "10.1.0.2")).update();
        sink.await("slice update", () -> endpointsOf(http("default", "web")).size() == 2);

        client.resource(clusterIp("default", "api", "10.96.0.11")).create();
        sink.await("new service", () -> sink.contents().containsKey(http("default", "api")));
        assertEquals(Set.of(), endpointsOf(http("default", "api")));

        Service changed = clusterIp("default", "web", "10.96.0.10");
        changed.getSpec().getPorts().get(0).setPort(8000);
        client.resource(changed).update();
        sink.await("service port change", () -> {
            ServicePort sp = sink.contents().get(http("default", "web"));
            return sp != null && sp.port() == 8000;
        });
        assertEquals(Set.of("10.1.0.1:8080", "10.1.0.2:8080"), endpointsOf(http("default", "web")));

        client.resource(slice("default", "web", "web-1")).delete();
        sink.await("slice delete", () -> endpointsOf(http("default", "web")).isEmpty()
                && sink.contents().containsKey(http("default", "web")));

        client.resource(clusterIp("default", "web", "10.96.0.10")).delete();
        sink.await("service delete", () -> !sink.contents().containsKey(http("default", "web")));
        assertEquals(List.of("default/api:http/TCP"), sink.names());
    }

    @Test
    void severalSlicesOfOneServiceMerge() throws Exception {
        client.resource(clusterIp("shop", "cart", "10.96.1.1")).create();
        client.resource(slice("shop", "cart", "cart-a", "10.2.0.1", "10.2.0.2")).create();
        client.resource(slice("shop", "cart", "cart-b", "10.2.0.3")).create();
        startWatcher();
        sink.await("three endpoints", () -> endpointsOf(http("shop", "cart")).size() == 3);
        assertEquals(Set.of("10.2.0.1:8080", "10.2.0.2:8080", "10.2.0.3:8080"), endpointsOf(http("shop", "cart")));

        client.resource(slice("shop", "cart", "cart-c", "10.2.0.4")).create();
        sink.await("fourth endpoint from a third slice", () -> endpointsOf(http("shop", "cart")).size() == 4);
        client.resource(slice("shop", "cart", "cart-a")).delete();
        sink.await("slice a gone", () -> endpointsOf(http("shop", "cart")).size() == 2);
        assertEquals(Set.of("10.2.0.3:8080", "10.2.0.4:8080"), endpointsOf(http("shop", "cart")));
    }
}
