package dev.ferry.e2e;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.ferry.testkit.KernelTest;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeAddress;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.ServicePortBuilder;
import io.fabric8.kubernetes.api.model.TaintBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.ForZoneBuilder;
import io.fabric8.kubernetes.api.model.events.v1.Event;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import tools.jackson.databind.JsonNode;

/**
 * Ferry against the real kube-apiserver (../shared/k8s, v1.32): the `./ferry run --kubeconfig`
 * daemon in a routed node namespace, as user system:kube-proxy (exactly kube-proxy's RBAC), talking
 * to the API through a unix-socket relay; objects made with the admin client; every case checked
 * with real TCP traffic from a client namespace through the kernel's nftables rules to backend
 * namespaces, and with `ferry dump`. One control plane and one daemon for the whole class (the
 * control plane is a machine-wide resource and takes seconds to start); the cases run in order and
 * each uses its own Services, except that the last ones (outage, relist, node deletion, RBAC audit)
 * look back at everything before them.
 */
@KernelTest("end-to-end tests against a real kube-apiserver (network namespaces, etcd, nftables)")
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ApiServerIT {
    static final String NS = "ferry-e2e";
    static final String ZONE_LABEL = "topology.kubernetes.io/zone";

    ControlPlane cp;
    KubernetesClient api;
    NodeNamespaces net;
    FerryDaemon ferry;
    String nodeName;
    Path work;
    long t0;

    @BeforeAll
    void startEverything() throws Exception {
        Path scripts = ControlPlane.requireEnvironment();
        t0 = System.currentTimeMillis();
        Path root = Path.of(System.getProperty("ferry.root", "..")).toAbsolutePath().normalize();
        Path k8sDir = Path.of(System.getenv().getOrDefault("FERRY_E2E_K8S_DIR", "/var/lib/ferry-e2e/k8s"));
        work = Files.createTempDirectory("ferry-e2e-", PosixFilePermissions.asFileAttribute(
                PosixFilePermissions.fromString("rwx------")));
        cp = ControlPlane.start(scripts, k8sDir);
        api = cp.admin();
        step("control plane up");
        net = new NodeNamespaces(work);
        nodeName = net.prefix + "-node";
        api.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName(NS).endMetadata().build()).create();
        createNode("zone-a");
        for (int i = 1; i <= 2; i++) {
            net.echo(i, 8080);
            net.echo(i, 9090);
        }
        net.startRelay();
        ferry = FerryDaemon.start(root, net, cp.kubeProxyKubeconfig(), nodeName, work);
        ferry.await("/healthz 200", 120_000, () -> ferry.healthz("/healthz") == 200);
        step("ferry healthy");
    }

    @AfterAll
    void stopEverything() throws Exception {
        if (work == null) {
            return; // skipped before anything was started
        }
        try {
            if (ferry != null) {
                ferry.close();
                System.out.println(ferry.logTail());
            }
        } finally {
            try {
                if (net != null) net.close();
            } finally {
                if (cp != null) cp.close();
                step("all stopped");
            }
        }
    }

    /** Progress with the time since the start, on stdout (the failsafe report) and in WORK/steps.log as it happens. */
    void step(String what) {
        String line = String.format("[e2e +%6.1f s] %s%n", (System.currentTimeMillis() - t0) / 1000.0, what);
        System.out.print(line);
        if (work == null) {
            return;
        }
        try {
            Files.writeString(work.resolve("steps.log"), line, java.nio.file.StandardOpenOption.CREATE,
                    java.nio.file.StandardOpenOption.APPEND);
        } catch (IOException e) {
            System.out.println("steps.log: " + e);
        }
    }

    // ---- objects --------------------------------------------------------------------------------

    void createNode(String zone) {
        Node n = new NodeBuilder().withNewMetadata().withName(nodeName)
                .withLabels(Map.of("kubernetes.io/hostname", nodeName, ZONE_LABEL, zone)).endMetadata().build();
        api.nodes().resource(n).create();
        api.nodes().withName(nodeName).editStatus(x -> new NodeBuilder(x).editOrNewStatus().withAddresses(
                new NodeAddress(NodeNamespaces.NODE_IP, "InternalIP"), new NodeAddress(NodeNamespaces.NODE_IP6, "InternalIP"),
                new NodeAddress(nodeName, "Hostname")).endStatus().build());
    }

    /** A Service in NS whose ports name their target port by name ("http" → 8080, "admin" → 9090 in the slices). */
    Service service(String name, String type, Map<String, String> labels, int... ports) {
        ServiceBuilder b = new ServiceBuilder().withNewMetadata().withName(name).withNamespace(NS).withLabels(labels)
                .endMetadata().withNewSpec().withType(type).endSpec();
        for (int p : ports) {
            String portName = p == 81 ? "admin" : "http";
            b.editSpec().addToPorts(new ServicePortBuilder().withName(portName).withPort(p).withProtocol("TCP")
                    .withNewTargetPort(portName).build()).endSpec();
        }
        return b.build();
    }

    Service create(Service s) {
        return api.services().inNamespace(NS).resource(s).create();
    }

    /** A slice of service with the given backends (1 → 10.244.1.2, -1 → fd00:244:1::2), ports http 8080 and admin 9090. */
    EndpointSlice slice(String service, String name, int... backends) {
        boolean v6 = backends.length > 0 && backends[0] < 0;
        EndpointSliceBuilder b = new EndpointSliceBuilder().withNewMetadata().withName(name).withNamespace(NS)
                .withLabels(Map.of("kubernetes.io/service-name", service)).endMetadata()
                .withAddressType(v6 ? "IPv6" : "IPv4")
                .addNewPort().withName("http").withPort(8080).withProtocol("TCP").endPort()
                .addNewPort().withName("admin").withPort(9090).withProtocol("TCP").endPort();
        for (int i : backends) {
            b.addToEndpoints(new EndpointBuilder().withAddresses(i < 0 ? NodeNamespaces.backendIp6(-i) : NodeNamespaces.backendIp(i))
                    .withNewConditions().withReady(true).withServing(true).withTerminating(false).endConditions()
                    .withNodeName(nodeName).build());
        }
        return b.build();
    }

    EndpointSlice create(EndpointSlice s) {
        return api.discovery().v1().endpointSlices().inNamespace(NS).resource(s).create();
    }

    void mergePatch(String service, String json) {
        api.services().inNamespace(NS).withName(service).patch(PatchContext.of(PatchType.JSON_MERGE), json);
    }

    void setIngress(String service, String ip) {
        api.services().inNamespace(NS).withName(service).editStatus(s -> new ServiceBuilder(s).editOrNewStatus()
                .withNewLoadBalancer().addNewIngress().withIp(ip).endIngress().endLoadBalancer().endStatus().build());
    }

    String clusterIP(String service) {
        return api.services().inNamespace(NS).withName(service).get().getSpec().getClusterIP();
    }

    // ---- traffic ------------------------------------------------------------------------------

    /** One TCP connection from the client namespace: what the backend answered, "" when nothing did. */
    String ask(String ip, int port) throws IOException, InterruptedException {
        String host = ip.contains(":") ? "[" + ip + "]" : ip;
        Sh.Result r = Sh.exec(Map.of(), 10, List.of("ip", "netns", "exec", net.client, "socat", "-T", "2", "-",
                "TCP:" + host + ":" + port + ",connect-timeout=2"));
        return r.code() == 0 ? r.out().trim() : "";
    }

    /** The distinct answers of n connections. */
    Set<String> answers(String ip, int port, int n) throws IOException, InterruptedException {
        Set<String> seen = new TreeSet<>();
        for (int i = 0; i < n; i++) {
            seen.add(ask(ip, port));
        }
        return seen;
    }

    /** Waits (bounded) until n connections to ip:port get exactly the expected answers ("" = no answer). */
    void awaitAnswers(String what, String ip, int port, Set<String> expected, long timeoutMillis) throws Exception {
        long deadline = System.currentTimeMillis() + timeoutMillis;
        Set<String> last = Set.of();
        while (System.currentTimeMillis() < deadline) {
            // 12 connections make a wrongly kept second backend (picked at random) show up with p = 1 - 2^-12.
            last = answers(ip, port, expected.equals(Set.of("")) ? 3 : 12);
            if (last.equals(expected)) return;
            assertTrue(ferry.alive(), "ferry exited\n" + ferry.logTail());
            Thread.sleep(200);
        }
        fail(what + ": " + ip + ":" + port + " answered " + last + ", expected " + expected + " within " + timeoutMillis
                + " ms\n" + ferry.logTail());
    }

    /** The service ports of NS/name in `ferry dump services`, by port name. */
    Map<String, JsonNode> dumped(String name) throws IOException, InterruptedException {
        Map<String, JsonNode> out = new LinkedHashMap<>();
        for (JsonNode n : ferry.dump("services", NS + "/" + name)) {
            out.put(n.path("portName").asString(""), n);
        }
        return out;
    }

    static Set<String> of(String... s) {
        return new TreeSet<>(List.of(s));
    }

    // ---- the cases ----------------------------------------------------------------------------

    @Test
    @Order(1)
    void everyServiceTypeCarriesTrafficWithMultiSliceNamedPortsAndDualStack() throws Exception {
        create(service("web", "ClusterIP", Map.of(), 80));
        create(slice("web", "web-1", 1));
        create(slice("web", "web-2", 2));
        create(service("multi", "ClusterIP", Map.of(), 80, 81));
        create(slice("multi", "multi-1", 1));
        Service np = service("np", "NodePort", Map.of(), 80);
        np.getSpec().getPorts().get(0).setNodePort(30080);
        create(np);
        create(slice("np", "np-1", 2));
        create(service("lb", "LoadBalancer", Map.of(), 80));
        setIngress("lb", "203.0.113.10");
        create(slice("lb", "lb-1", 1));
        Service ext = service("ext", "ExternalName", Map.of(), 80);
        ext.getSpec().setExternalName("db.example.com");
        create(ext);
        Service headless = service("hl", "ClusterIP", Map.of(), 80);
        headless.getSpec().setClusterIP("None");
        create(headless);
        create(slice("hl", "hl-1", 1));
        Service ds = service("ds", "ClusterIP", Map.of(), 80);
        ds.getSpec().setIpFamilyPolicy("RequireDualStack");
        ds.getSpec().setIpFamilies(List.of("IPv4", "IPv6"));
        ds = create(ds);
        create(slice("ds", "ds-v4", 1));
        create(slice("ds", "ds-v6", -2));

        String web = clusterIP("web");
        awaitAnswers("two slices of one service", web, 80, of("b1-8080", "b2-8080"), 30_000);
        String multi = clusterIP("multi");
        awaitAnswers("named port http", multi, 80, of("b1-8080"), 15_000);
        awaitAnswers("named port admin", multi, 81, of("b1-9090"), 15_000);
        awaitAnswers("NodePort on the node's InternalIP", NodeNamespaces.NODE_IP, 30080, of("b2-8080"), 15_000);
        awaitAnswers("NodePort's ClusterIP", clusterIP("np"), 80, of("b2-8080"), 15_000);
        awaitAnswers("LoadBalancer ingress IP", "203.0.113.10", 80, of("b1-8080"), 15_000);
        List<String> dsIps = ds.getSpec().getClusterIPs();
        assertEquals(2, dsIps.size(), "dual-stack ClusterIPs " + dsIps);
        awaitAnswers("dual-stack IPv4", dsIps.get(0), 80, of("b1-8080"), 15_000);
        awaitAnswers("dual-stack IPv6", dsIps.get(1), 80, of("b2-8080"), 15_000);

        Map<String, JsonNode> w = dumped("web");
        assertEquals(Set.of("http"), w.keySet(), "web in ferry dump: " + w);
        assertEquals("ClusterIP", w.get("http").path("type").asString(""));
        assertEquals(2, w.get("http").path("readyEndpoints").asInt(), "web: " + w);
        Map<String, JsonNode> m = dumped("multi");
        assertEquals(Set.of("http", "admin"), m.keySet(), "multi: " + m);
        assertEquals("admin", m.get("admin").path("targetPort").asString(""), "multi admin: " + m.get("admin"));
        JsonNode adminEndpoints = ferry.dump("endpoints", NS + "/multi").stream()
                .filter(x -> x.path("portName").asString("").equals("admin")).findFirst().orElseThrow().path("endpoints");
        assertEquals(9090, adminEndpoints.path(0).path("port").asInt(), "multi admin endpoints: " + adminEndpoints);
        assertEquals(30080, dumped("np").get("http").path("nodePort").asInt());
        assertEquals("[\"203.0.113.10\"]", dumped("lb").get("http").path("loadBalancerIPs").toString());
        JsonNode e = dumped("ext").get("http");
        assertEquals("ExternalName", e.path("type").asString(""), "ext: " + e);
        assertEquals("db.example.com", e.path("externalName").asString(""));
        assertEquals("Headless", dumped("hl").get("http").path("type").asString(""), "hl");
        assertEquals(dsIps.toString().replace(" ", ""),
                dumped("ds").get("http").path("clusterIPs").toString().replace("\"", ""), "ds");
        step("every service type: traffic and dump");
    }

    @Test
    @Order(2)
    void servicesLabelledForAnotherProxyOrHeadlessAreIgnoredAndFollowTheirLabels() throws Exception {
        create(service("other-proxy", "ClusterIP", Map.of("service.kubernetes.io/service-proxy-name", "other"), 80));
        create(slice("other-proxy", "other-proxy-1", 1));
        create(service("labelled-headless", "ClusterIP", Map.of("service.kubernetes.io/headless", ""), 80));
        create(slice("labelled-headless", "labelled-headless-1", 1));
        create(service("moves", "ClusterIP", Map.of(), 80));
        create(slice("moves", "moves-1", 2));
        String moves = clusterIP("moves");
        awaitAnswers("control service", moves, 80, of("b2-8080"), 30_000);
        assertEquals(of(""), answers(clusterIP("other-proxy"), 80, 2), "a service for another proxy answered");
        assertEquals(of(""), answers(clusterIP("labelled-headless"), 80, 2), "a service labelled headless answered");
        assertTrue(dumped("other-proxy").isEmpty() && dumped("labelled-headless").isEmpty(), "ignored services in ferry dump");

        // The label appears on a served Service: the API server's filtered watch says DELETED.
        mergePatch("moves", "{\"metadata\":{\"labels\":{\"service.kubernetes.io/service-proxy-name\":\"other\"}}}");
        awaitAnswers("labelled for another proxy", moves, 80, of(""), 30_000);
        assertTrue(dumped("moves").isEmpty(), "moves still in ferry dump");
        mergePatch("moves", "{\"metadata\":{\"labels\":{\"service.kubernetes.io/service-proxy-name\":null}}}");
        awaitAnswers("label removed", moves, 80, of("b2-8080"), 30_000);
        step("service-proxy-name and headless labels");
    }

    @Test
    @Order(3)
    void aServiceChangesTypeFromClusterIpToNodePortToLoadBalancerToExternalName() throws Exception {
        create(service("tc", "ClusterIP", Map.of(), 80));
        create(slice("tc", "tc-1", 1));
        String ip = clusterIP("tc");
        awaitAnswers("ClusterIP", ip, 80, of("b1-8080"), 30_000);
        assertEquals(of(""), answers(NodeNamespaces.NODE_IP, 30081, 2), "node port open before the type change");

        mergePatch("tc", "{\"spec\":{\"type\":\"NodePort\",\"ports\":[{\"name\":\"http\",\"port\":80,\"protocol\":\"TCP\","
                + "\"targetPort\":\"http\",\"nodePort\":30081}]}}");
        awaitAnswers("NodePort", NodeNamespaces.NODE_IP, 30081, of("b1-8080"), 30_000);
        awaitAnswers("NodePort keeps its ClusterIP", ip, 80, of("b1-8080"), 5_000);
        assertEquals("NodePort", dumped("tc").get("http").path("type").asString(""));

        mergePatch("tc", "{\"spec\":{\"type\":\"LoadBalancer\"}}");
        setIngress("tc", "203.0.113.11");
        awaitAnswers("LoadBalancer ingress", "203.0.113.11", 80, of("b1-8080"), 30_000);
        awaitAnswers("LoadBalancer keeps its node port", NodeNamespaces.NODE_IP, 30081, of("b1-8080"), 5_000);
        assertEquals("LoadBalancer", dumped("tc").get("http").path("type").asString(""));

        mergePatch("tc", "{\"spec\":{\"type\":\"ExternalName\",\"externalName\":\"tc.example.com\"}}");
        awaitAnswers("ExternalName: no ClusterIP", ip, 80, of(""), 30_000);
        awaitAnswers("ExternalName: no node port", NodeNamespaces.NODE_IP, 30081, of(""), 10_000);
        awaitAnswers("ExternalName: no ingress", "203.0.113.11", 80, of(""), 10_000);
        JsonNode t = dumped("tc").get("http");
        assertEquals("ExternalName", t.path("type").asString(""), "tc: " + t);
        assertEquals("tc.example.com", t.path("externalName").asString(""));
        assertEquals(0, t.path("nodePort").asInt(), "tc: " + t);
        step("type change ClusterIP → NodePort → LoadBalancer → ExternalName");
    }

    @Test
    @Order(4)
    void topologyHintsFollowTheZoneLabelOfThisNode() throws Exception {
        Service s = service("topo", "ClusterIP", Map.of(), 80);
        s.getSpec().setTrafficDistribution("PreferClose");
        create(s);
        EndpointSlice sl = slice("topo", "topo-1", 1, 2);
        sl.getEndpoints().get(0).setZone("zone-a");
        sl.getEndpoints().get(0).setHints(new io.fabric8.kubernetes.api.model.discovery.v1.EndpointHintsBuilder()
                .withForZones(new ForZoneBuilder().withName("zone-a").build()).build());
        sl.getEndpoints().get(1).setZone("zone-b");
        sl.getEndpoints().get(1).setHints(new io.fabric8.kubernetes.api.model.discovery.v1.EndpointHintsBuilder()
                .withForZones(new ForZoneBuilder().withName("zone-b").build()).build());
        create(sl);
        String ip = clusterIP("topo");
        awaitAnswers("zone-a node: zone-a endpoint only", ip, 80, of("b1-8080"), 30_000);
        api.nodes().withName(nodeName).edit(n -> new NodeBuilder(n).editMetadata().addToLabels(ZONE_LABEL, "zone-b")
                .endMetadata().build());
        awaitAnswers("relabelled zone-b: zone-b endpoint only", ip, 80, of("b2-8080"), 30_000);
        api.nodes().withName(nodeName).edit(n -> new NodeBuilder(n).editMetadata().addToLabels(ZONE_LABEL, "zone-c")
                .endMetadata().build());
        awaitAnswers("zone-c has no hinted endpoint: all endpoints", ip, 80, of("b1-8080", "b2-8080"), 30_000);
        step("topology hints follow the node's zone label");
    }

    @Test
    @Order(5)
    void eventsArePostedAsKubeProxyPostsThem() throws Exception {
        // An EndpointSlice without its service label: Ferry skips it and says so on the object.
        EndpointSlice orphan = slice("none", "orphan-1", 1);
        orphan.getMetadata().setLabels(Map.of());
        String uid = create(orphan).getMetadata().getUid();
        ferry.await("the Starting and the Warning event", 30_000, () -> {
            List<Event> all = new ArrayList<>(api.events().v1().events().inNamespace("default").list().getItems());
            all.addAll(api.events().v1().events().inNamespace(NS).list().getItems());
            return all.stream().anyMatch(e -> "Starting".equals(e.getReason()) && nodeName.equals(e.getRegarding().getName()))
                    && all.stream().anyMatch(e -> "Warning".equals(e.getType()) && "orphan-1".equals(e.getRegarding().getName()));
        });
        Event start = api.events().v1().events().inNamespace("default").list().getItems().stream()
                .filter(e -> "Starting".equals(e.getReason()) && nodeName.equals(e.getRegarding().getName()))
                .findFirst().orElseThrow();
        // kube-proxy's, as v1.32 posts it to this API server (seen in the side-by-side benchmark): events.k8s.io/v1
        // in "default", regarding {kind Node, name, uid = the node name}, type Normal, reason Starting, action
        // StartKubeProxy, an eventTime, reportingController kube-proxy, reportingInstance kube-proxy-HOSTNAME.
        assertEquals("Node", start.getRegarding().getKind());
        assertEquals(nodeName, start.getRegarding().getUid());
        assertEquals("Normal", start.getType());
        assertEquals("StartFerry", start.getAction());
        assertTrue(start.getEventTime() != null && !start.getEventTime().getTime().isEmpty(), "eventTime " + start);
        assertEquals("ferry", start.getReportingController());
        assertEquals("ferry-" + nodeName, start.getReportingInstance());
        Event warn = api.events().v1().events().inNamespace(NS).list().getItems().stream()
                .filter(e -> "orphan-1".equals(e.getRegarding().getName())).findFirst().orElseThrow();
        assertEquals("EndpointSlice", warn.getRegarding().getKind());
        assertEquals(uid, warn.getRegarding().getUid());
        assertEquals("discovery.k8s.io/v1", warn.getRegarding().getApiVersion());
        assertTrue(warn.getNote().contains("kubernetes.io/service-name"), "note: " + warn.getNote());
        step("events");
    }

    @Test
    @Order(6)
    void afterEtcdCompactionTheWatchGets410AndRelistsWithoutFlaps() throws Exception {
        create(service("stay", "ClusterIP", Map.of(), 80));
        create(slice("stay", "stay-1", 1));
        create(service("flip", "ClusterIP", Map.of(), 80));
        create(slice("flip", "flip-1", 1));
        create(service("gone", "ClusterIP", Map.of(), 80));
        create(slice("gone", "gone-1", 2));
        String stay = clusterIP("stay");
        String flip = clusterIP("flip");
        String gone = clusterIP("gone");
        awaitAnswers("stay", stay, 80, of("b1-8080"), 30_000);
        awaitAnswers("flip", flip, 80, of("b1-8080"), 30_000);
        awaitAnswers("gone", gone, 80, of("b2-8080"), 30_000);
        // Let the tracker write everything, then count from here.
        ferry.await("no pending change", 10_000, () -> ferry.healthz("/healthz") == 200);
        Thread.sleep(1500);
        long[] before = ferry.tableWrites();
        long lists = countLists();

        // Ferry loses the API; meanwhile one endpoint moves, one service appears and one goes.
        net.cutRelay();
        String born;
        try {
            api.discovery().v1().endpointSlices().inNamespace(NS).resource(slice("flip", "flip-1", 2)).update();
            create(service("born", "ClusterIP", Map.of(), 80));
            create(slice("born", "born-1", 2));
            born = clusterIP("born");
            api.services().inNamespace(NS).withName("gone").delete();
            api.discovery().v1().endpointSlices().inNamespace(NS).withName("gone-1").delete();
            long rev = cp.compactEtcd();
            // The watch cache serves any resourceVersion it still holds whatever etcd compacted: a restarted
            // API server's cache starts after the compacted revision, so Ferry's next watch gets 410 Expired.
            cp.stopApiServer();
            cp.restartApiServer();
            step("etcd compacted at revision " + rev + ", API server restarted");
            awaitAnswers("stay keeps answering while cut off", stay, 80, of("b1-8080"), 5_000);
        } finally {
            net.startHostRelay();
        }

        awaitAnswers("flip's endpoint moved", flip, 80, of("b2-8080"), 90_000);
        awaitAnswers("born appeared", born, 80, of("b2-8080"), 30_000);
        awaitAnswers("gone went", gone, 80, of(""), 30_000);
        awaitAnswers("stay kept", stay, 80, of("b1-8080"), 5_000);
        Thread.sleep(1500);
        long[] after = ferry.tableWrites();
        // Only the three changes: one port added (born), one removed (gone), flip updated. The informers
        // relist one after the other, so born may be written first without endpoints (its slice not yet
        // relisted) and then updated: one more update, never more. A surviving service removed and re-added
        // would count in both "added" and "removed"; one rewritten would exceed the updates.
        long added = after[0] - before[0];
        long updated = after[1] - before[1];
        long removed = after[2] - before[2];
        String writes = "table writes across the relist: " + added + " added, " + updated + " updated, " + removed
                + " removed\n" + ferry.logTail();
        assertEquals(1, added, writes);
        assertEquals(1, removed, writes);
        assertTrue(updated == 1 || updated == 2, writes);
        // A plain reconnect resumes the watch from its resourceVersion; only a 410 makes the informer list again.
        assertTrue(countLists() > lists, "no relist (list of services by system:kube-proxy) after the 410");
        step("410 relist without flaps");
    }

    long countLists() throws IOException {
        return cp.kubeProxyRequests().stream().filter(e -> e.verb().equals("list") && e.resource().equals("services")).count();
    }

    @Test
    @Order(7)
    void theApiServerDownForThirtySecondsChangesNothingAndChangesFlowAfter() throws Exception {
        String web = clusterIP("web");
        awaitAnswers("web before", web, 80, of("b1-8080", "b2-8080"), 10_000);
        Thread.sleep(1500);
        long[] before = ferry.tableWrites();
        cp.stopApiServer();
        long down = System.currentTimeMillis();
        step("API server stopped");
        Set<String> seen = new TreeSet<>();
        try {
            while (System.currentTimeMillis() - down < 30_000) {
                // Every connection answered, by one of web's two backends (each picked at random).
                Set<String> now = answers(web, 80, 4);
                assertTrue(of("b1-8080", "b2-8080").containsAll(now), "web during the outage: " + now + "\n" + ferry.logTail());
                seen.addAll(now);
                assertTrue(ferry.alive(), "ferry exited during the outage\n" + ferry.logTail());
                Thread.sleep(1000);
            }
            assertEquals(of("b1-8080", "b2-8080"), seen, "web's backends during the outage");
            assertFalse(dumped("web").isEmpty(), "web left the table during the outage");
            assertEquals(200, ferry.healthz("/livez"), "/livez during the outage");
        } finally {
            cp.restartApiServer();
        }
        step("API server restarted");
        // A change after the restart reaches the kernel: web loses backend 2.
        api.discovery().v1().endpointSlices().inNamespace(NS).withName("web-2").delete();
        awaitAnswers("web after the outage", web, 80, of("b1-8080"), 90_000);
        step("change after the outage applied");
        Thread.sleep(1500);
        long[] after = ferry.tableWrites();
        assertArrayEquals(new long[] {0, 1, 0}, new long[] {after[0] - before[0], after[1] - before[1], after[2] - before[2]},
                "table writes (added, updated, removed) across the outage: only web's endpoint change\n" + ferry.logTail());
    }

    @Test
    @Order(8)
    void healthzFailsWhileTheNodeIsTaintedForDeletionOrDeleted() throws Exception {
        assertEquals(200, ferry.healthz("/healthz"));
        api.nodes().withName(nodeName).edit(n -> new NodeBuilder(n).editOrNewSpec().addToTaints(new TaintBuilder()
                .withKey("ToBeDeletedByClusterAutoscaler").withValue("1").withEffect("NoSchedule").build()).endSpec().build());
        ferry.await("/healthz 503 when tainted ToBeDeletedByClusterAutoscaler", 30_000, () -> ferry.healthz("/healthz") == 503);
        assertEquals(200, ferry.healthz("/livez"), "/livez ignores the node");
        api.nodes().withName(nodeName).edit(n -> new NodeBuilder(n).editSpec().withTaints(List.of()).endSpec().build());
        ferry.await("/healthz 200 when the taint is gone", 30_000, () -> ferry.healthz("/healthz") == 200);
        api.nodes().withName(nodeName).delete();
        ferry.await("/healthz 503 when the Node is deleted", 30_000, () -> ferry.healthz("/healthz") == 503);
        awaitAnswers("traffic keeps flowing while the node drains", clusterIP("web"), 80, of("b1-8080"), 5_000);
        createNode("zone-a");
        ferry.await("/healthz 200 when the Node is back", 30_000, () -> ferry.healthz("/healthz") == 200);
        step("healthz follows taint and deletion");
    }

    @Test
    @Order(9)
    void ferryUsesOnlyTheVerbsSystemNodeProxierAllows() throws Exception {
        // system:node-proxier (Kubernetes 1.32): list/watch services, endpoints, endpointslices; get/list/watch
        // nodes; create/patch/update events (core and events.k8s.io).
        Set<String> allowed = Set.of("list services", "watch services", "list endpoints", "watch endpoints",
                "list discovery.k8s.io/endpointslices", "watch discovery.k8s.io/endpointslices", "get nodes", "list nodes",
                "watch nodes", "create events", "patch events", "update events", "create events.k8s.io/events",
                "patch events.k8s.io/events", "update events.k8s.io/events");
        List<ControlPlane.AuditEntry> all = cp.kubeProxyRequests();
        assertTrue(all.size() > 10, "the audit log has " + all.size() + " requests by system:kube-proxy");
        List<String> outside = all.stream()
                .filter(e -> !allowed.contains(e.verb() + " " + (e.group().isEmpty() ? "" : e.group() + "/") + e.resource()))
                .map(ControlPlane.AuditEntry::toString).distinct().collect(Collectors.toList());
        assertEquals(List.of(), outside, "requests outside system:node-proxier's rights");
        // A restarting API server refuses everyone but system:masters until its RBAC caches are filled, and
        // marks those requests; any other 401/403 means Ferry asked for something it may not have.
        List<String> refused = all.stream().filter(e -> (e.code() == 401 || e.code() == 403) && !e.duringStartup())
                .map(ControlPlane.AuditEntry::toString).distinct().collect(Collectors.toList());
        assertEquals(List.of(), refused, "requests refused by the API server once it was up");
        step("RBAC: " + all.size() + " requests by system:kube-proxy ("
                + all.stream().filter(ControlPlane.AuditEntry::duringStartup).count() + " during API server start-up), kinds "
                + all.stream().map(e -> e.verb() + " " + e.resource()).distinct().sorted().toList());
    }
}
