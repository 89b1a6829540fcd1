package dev.ferry.rules.nft;

import static dev.ferry.rules.nft.Services.svc;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.rules.KernelConntrackCleaner;
import dev.ferry.model.Cidr;
import dev.ferry.model.ServicePort;
import dev.ferry.rules.ApplyException;
import dev.ferry.rules.KernelTool;
import dev.ferry.rules.SyncReport;
import dev.ferry.testkit.KernelTest;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Ferry's nftables rules applied with the real {@code nft -f} in a node namespace, and real TCP
 * connections from a client namespace and from pod namespaces through them.
 */
@KernelTest(value = "nftables traffic tests", tools = {"ip", "nft", "socat", "ss", "conntrack"})
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class NftTrafficTest {
    static final String NODE_IP = "192.168.50.1";
    static final String ALLOWED = "192.168.50.2";
    static final String DENIED = "192.168.50.3";
    static final String LB_IP = "198.51.100.10";

    static NodeTopology topo;
    static KernelTool nft;
    static NftOptions options = NftOptions.defaults().withClusterCidrs(List.of(Cidr.parse("10.244.0.0/16")));

    @BeforeAll
    static void createNode() throws IOException {
        topo = new NodeTopology();
        try {
            topo.start();
        } catch (IOException | RuntimeException e) {
            topo.close();
            throw e;
        }
        nft = KernelTool.inNamespace(topo.node, Duration.ofSeconds(60));
    }

    @AfterAll
    static void deleteNode() {
        if (topo != null) {
            topo.close();
        }
    }

    static Services threePods(String name, String clusterIp) {
        return svc("test", name, clusterIp, 80).ep("10.244.1.2", 8080).ep("10.244.2.2", 8080).ep("10.244.3.2", 8080);
    }

    static List<ServicePort> services() {
        return new ArrayList<>(List.of(
                threePods("web", "10.96.0.10").nodePort(30080).loadBalancer(LB_IP, ALLOWED + "/32").build(),
                svc("test", "local", "10.96.0.11", 80).nodePort(30081).local()
                        .ep("10.244.1.2", 8080, true, true).ep("10.244.2.2", 8080, true, false)
                        .ep("10.244.3.2", 8080, true, false).build(),
                threePods("sticky", "10.96.0.12").affinity(300).build(),
                svc("test", "empty", "10.96.0.13", 80).nodePort(30083).build(),
                svc("test", "one", "10.96.0.14", 80).ep("10.244.1.2", 8080).build(),
                svc("test", "echo", "10.96.0.15", 9000).ep("10.244.1.2", 9000).build()));
    }

    static SyncReport fullSync(NftSyncer s, List<ServicePort> ports) throws Exception {
        return s.sync(ports, true);
    }

    /** Which pods answered n connections. */
    static Set<String> podsAnswering(String src, String dst, int port, int n) throws IOException {
        Set<String> pods = new HashSet<>();
        for (int i = 0; i < n; i++) {
            NodeTopology.Reply r = topo.request(src, dst, port);
            assertTrue(r.ok(), "connection " + i + " to " + dst + ":" + port + " failed: " + r.error());
            pods.add(r.body().split(" ")[0]);
        }
        return pods;
    }

    @Test
    @Order(1)
    void clusterIpSpreadsOverAllBackends() throws Exception {
        fullSync(new NftSyncer(options, nft), services());
        assertEquals(Set.of("pod1", "pod2", "pod3"), podsAnswering(null, "10.96.0.10", 80, 30));
    }

    @Test
    @Order(2)
    void nodePortAnswersOnTheNodeAddressFromTheClientNamespace() throws Exception {
        fullSync(new NftSyncer(options, nft), services());
        Set<String> pods = podsAnswering(null, NODE_IP, 30080, 12);
        assertFalse(pods.isEmpty());
    }

    @Test
    @Order(3)
    void loadBalancerSourceRangesAllowListedSourcesAndDropOthers() throws Exception {
        fullSync(new NftSyncer(options, nft), services());
        assertTrue(topo.request(ALLOWED, LB_IP, 80).ok(), "allowed source " + ALLOWED + " must reach the LB IP");
        NodeTopology.Reply denied = topo.request(DENIED, LB_IP, 80);
        assertFalse(denied.ok(), "source " + DENIED + " is outside loadBalancerSourceRanges but got: " + denied.body());
        assertFalse(denied.error().contains("refused"), "a denied source is dropped, not rejected: " + denied.error());
    }

    @Test
    @Order(4)
    void externalTrafficPolicyLocalSendsExternalTrafficOnlyToLocalEndpoints() throws Exception {
        fullSync(new NftSyncer(options, nft), services());
        assertEquals(Set.of("pod1"), podsAnswering(null, NODE_IP, 30081, 15), "NodePort with eTP Local");
        assertEquals(Set.of("pod1", "pod2", "pod3"), podsAnswering(null, "10.96.0.11", 80, 30),
                "the ClusterIP of the same service still uses every endpoint");
    }

    @Test
    @Order(5)
    void clientIpAffinityKeepsAClientOnOneBackend() throws Exception {
        fullSync(new NftSyncer(options, nft), services());
        assertEquals(1, podsAnswering(null, "10.96.0.12", 80, 12).size());
        String sets = topo.inNode("nft", "list", "table", "ip", "ferry");
        assertTrue(sets.contains("192.168.50.2"), "the client's address is recorded in an affinity set:\n" + sets);
    }

    @Test
    @Order(6)
    void servicePortWithoutEndpointsIsRejectedAtOnce() throws Exception {
        fullSync(new NftSyncer(options, nft), services());
        NodeTopology.Reply cluster = topo.request(null, "10.96.0.13", 80);
        assertFalse(cluster.ok());
        assertTrue(cluster.error().contains("Connection refused"), "ClusterIP without endpoints: " + cluster.error());
        NodeTopology.Reply nodePort = topo.request(null, NODE_IP, 30083);
        assertTrue(nodePort.error().contains("Connection refused"), "NodePort without endpoints: " + nodePort.error());
        NodeTopology.Reply otherPort = topo.request(null, "10.96.0.10", 81);
        assertTrue(otherPort.error().contains("Connection refused"), "a ClusterIP port no service has: " + otherPort.error());
    }

    @Test
    @Order(7)
    void masqueradeFollowsClusterCidr() throws Exception {
        fullSync(new NftSyncer(options, nft), services());
        NodeTopology.Reply fromOutside = topo.request(null, "10.96.0.14", 80);
        assertEquals("pod1 10.244.1.1", fromOutside.body(), "a client outside 10.244.0.0/16 is masqueraded to the node");
        NodeTopology.Reply fromPod = topo.requestFromPod(3, "10.96.0.14", 80);
        assertEquals("pod1 10.244.3.2", fromPod.body(), "a pod inside the cluster CIDR keeps its address");

        fullSync(new NftSyncer(options.withMasqueradeAll(true), nft), services());
        assertEquals("pod1 10.244.1.1", topo.requestFromPod(3, "10.96.0.14", 80).body(), "masqueradeAll");
    }

    @Test
    @Order(8)
    void oneEndpointChangeIsASmallTransactionAndTakesEffect() throws Exception {
        NftSyncer syncer = new NftSyncer(options, nft);
        List<ServicePort> ports = services();
        ports.addAll(NftPartialPayloadTest.many(500));
        SyncReport first = syncer.sync(ports, false);
        assertTrue(first.full(), "the first sync of a syncer is full");

        // pod3's entry now points at pod2 (listed twice): the same number of endpoints
        ServicePort web = ports.get(0);
        List<dev.ferry.model.Endpoint> eps = new ArrayList<>(web.endpoints());
        eps.set(2, svc("x", "y", "10.0.0.1", 1).ep("10.244.2.2", 8080).build().endpoints().get(0));
        ports.set(0, web.withEndpoints(eps));
        SyncReport second = syncer.sync(ports, false);

        assertFalse(second.full());
        NftPayload p = syncer.lastPayload();
        assertTrue(p.lineCount() <= 10, "one endpoint replaced should be a handful of lines, got:\n" + p.text());
        assertFalse(p.text().contains(" rule ") || p.text().contains(" chain "), "an endpoint change is element updates only:\n" + p.text());
        for (int i = 1; i <= p.lineCount(); i++) {
            assertEquals(web.name(), p.ownerOfLine(i), "line " + i + " is not the web service's: " + p.line(i));
        }
        assertEquals(Set.of("pod1", "pod2"), podsAnswering(null, "10.96.0.10", 80, 24));

        // one endpoint fewer: the service moves to the two-endpoint pick chains (created on the way)
        ports.set(0, web.withEndpoints(web.endpoints().subList(0, 2)));
        SyncReport third = syncer.sync(ports, false);
        assertFalse(third.full());
        assertEquals(Set.of("pod1", "pod2"), podsAnswering(null, "10.96.0.10", 80, 24));
        assertEquals(Set.of("pod1", "pod2"), podsAnswering(null, NODE_IP, 30080, 24), "the NodePort follows too");
    }

    @Test
    @Order(9)
    void aServiceMovesBetweenThePickChainsAndChainsOfItsOwnByPartialSyncs() throws Exception {
        NftSyncer syncer = new NftSyncer(options, nft);
        List<ServicePort> ports = services();
        syncer.sync(ports, true);
        ServicePort plain = threePods("web", "10.96.0.10").nodePort(30080).loadBalancer(LB_IP, ALLOWED + "/32").build();
        ServicePort sticky = threePods("web", "10.96.0.10").nodePort(30080).loadBalancer(LB_IP, ALLOWED + "/32").affinity(300).build();

        ports.set(0, sticky);
        assertFalse(syncer.sync(ports, false).full());
        String withAffinity = topo.inNode("nft", "list", "chains", "ip");
        assertTrue(withAffinity.matches("(?s).*chain service-\\w+-test/web/.*"), "affinity needs the service's own chain:\n" + withAffinity);
        assertEquals(1, podsAnswering(null, "10.96.0.10", 80, 12).size(), "sticky after the move");
        assertEquals(1, podsAnswering(null, NODE_IP, 30080, 12).size(), "the NodePort is sticky too");

        ports.set(0, plain);
        assertFalse(syncer.sync(ports, false).full());
        String chains = topo.inNode("nft", "list", "chains", "ip");
        assertFalse(chains.matches("(?s).*chain (service|external|local)-\\w+-test/web/.*"),
                "the service's dispatch chains are gone (its firewall chain stays):\n" + chains);
        assertEquals(Set.of("pod1", "pod2", "pod3"), podsAnswering(null, "10.96.0.10", 80, 30), "spread again");
        assertTrue(topo.request(ALLOWED, LB_IP, 80).ok(), "the LB IP through pick-external");
    }

    @Test
    @Order(10)
    void udpServiceKeepsWorkingWhileItsBackendIsReplaced() throws Exception {
        Process old = topo.udpEcho(1, 5353);
        topo.udpEcho(2, 5353);
        NftSyncer syncer = new NftSyncer(options, nft,
                new KernelConntrackCleaner(List.of("ip", "netns", "exec", topo.node, "conntrack")));
        List<ServicePort> ports = services();
        ports.add(svc("test", "dns", "10.96.0.53", 53).portName("dns", dev.ferry.model.Protocol.UDP).ep("10.244.1.2", 5353).build());
        syncer.sync(ports, true);
        String first = topo.udp("10.96.0.53", 53, 40053);
        assertEquals("pod1", first, () -> "UDP through the ClusterIP; " + udpState());

        old.destroy();
        old.waitFor(5, TimeUnit.SECONDS);
        ports.set(ports.size() - 1, svc("test", "dns", "10.96.0.53", 53).portName("dns", dev.ferry.model.Protocol.UDP).ep("10.244.2.2", 5353).build());
        assertFalse(syncer.sync(ports, false).full());
        // the same 5-tuple: without the conntrack cleanup it would follow the stale entry to the dead pod1
        String second = topo.udp("10.96.0.53", 53, 40053);
        assertEquals("pod2", second, () -> "after the backend was replaced; " + udpState());
    }

    private static String udpState() {
        try {
            return "conntrack:\n" + topo.inNode("conntrack", "-L", "-p", "udp") + "\nendpoint map:\n"
                    + topo.inNode("nft", "list", "map", "ip", "ferry", "service-endpoints-udp");
        } catch (IOException e) {
            return "(state not readable: " + e.getMessage() + ")";
        }
    }

    @Test
    @Order(11)
    void aPodReachingItselfThroughItsServiceIsMasqueradedAndOtherPodsKeepTheirAddress() throws Exception {
        fullSync(new NftSyncer(options, nft), services());
        // pod1 is test/one's only endpoint: without the hairpin masquerade the reply would come from
        // pod1's own address and pod1 would drop it as a martian.
        NodeTopology.Reply self = topo.requestFromPod(1, "10.96.0.14", 80);
        assertEquals("pod1 10.244.1.1", self.body(), "hairpin: " + self.error());
        assertEquals("pod1 10.244.2.2", topo.requestFromPod(2, "10.96.0.14", 80).body(),
                "another pod of the cluster CIDR is not masqueraded");
        // The same through a service that keeps its own chain (affinity).
        NodeTopology.Reply sticky = topo.requestFromPod(1, "10.96.0.12", 80);
        assertTrue(sticky.ok(), "hairpin through an affinity service: " + sticky.error());
    }

    @Test
    @Order(12)
    void refusedServiceIsHeldBackAndTheOthersAreApplied() throws Exception {
        Path control = Files.createTempFile("nft-refuse", ".txt");
        try {
            Files.writeString(control, "10.96.0.20");
            NftSyncer syncer = new NftSyncer(options, refusingNft(control));
            List<ServicePort> ports = services();
            ports.add(svc("broken", "api", "10.96.0.20", 80).ep("10.244.2.2", 8080).build());
            ports.set(4, svc("test", "one", "10.96.0.14", 80).ep("10.244.2.2", 8080).build()); // moved to pod2

            SyncReport r = syncer.sync(ports, true);

            assertTrue(r.rejected().stream().anyMatch(x -> x.objectKey().equals("broken/api")
                    && x.detail().contains("the kernel refused its nftables rules")), String.valueOf(r.rejected()));
            assertEquals("pod2", topo.request(null, "10.96.0.14", 80).body().split(" ")[0], "the other services' change is applied");
            assertFalse(topo.inNode("nft", "list", "map", "ip", "ferry", "service-ips").contains("10.96.0.20"));
        } finally {
            Files.deleteIfExists(control);
        }
    }

    @Test
    @Order(13)
    void failedApplyKeepsTrafficFlowingOnTheOldRulesAndTheNextSyncIsFull() throws Exception {
        Path control = Files.createTempFile("nft-refuse", ".txt");
        try {
            NftSyncer syncer = new NftSyncer(options, refusingNft(control));
            List<ServicePort> ports = services();
            syncer.sync(ports, true);
            assertEquals("pod1", topo.request(null, "10.96.0.14", 80).body().split(" ")[0]);

            Files.writeString(control, "."); // every transaction is now refused, blamed on Ferry's own first line
            ports.set(4, svc("test", "one", "10.96.0.14", 80).ep("10.244.3.2", 8080).build());
            ApplyException e = assertThrows(ApplyException.class, () -> syncer.sync(ports, false));
            assertTrue(e.getMessage().contains("injected refusal"), e.getMessage());
            assertEquals("pod1", topo.request(null, "10.96.0.14", 80).body().split(" ")[0], "old rules still in place");
            assertEquals(Set.of("pod1", "pod2", "pod3"), podsAnswering(null, "10.96.0.10", 80, 30));

            Files.writeString(control, "");
            SyncReport after = syncer.sync(ports, false);
            assertTrue(after.full(), "after a failure the syncer rewrites everything");
            assertEquals("pod3", topo.request(null, "10.96.0.14", 80).body().split(" ")[0]);
        } finally {
            Files.deleteIfExists(control);
        }
    }

    @Test
    @Order(14)
    void restartedSyncerKeepsEstablishedConnectionsAndDoesNotFlush() throws Exception {
        fullSync(new NftSyncer(options, nft), services());
        String handleBefore = chainHandle("services");
        Process conn = topo.openConnection("10.96.0.15", 9000);
        try {
            BufferedReader in = NodeTopology.reader(conn);
            OutputStream out = conn.getOutputStream();
            out.write("before\n".getBytes(StandardCharsets.UTF_8));
            out.flush();
            assertEquals("before", NodeTopology.readLine(conn, in, 5));

            NftSyncer restarted = new NftSyncer(options, nft);
            SyncReport r = restarted.sync(services(), false);
            assertTrue(r.full());
            String payload = restarted.lastPayload().text();
            assertFalse(payload.contains("delete table") || payload.contains("flush table") || payload.contains("flush ruleset"));

            out.write("after\n".getBytes(StandardCharsets.UTF_8));
            out.flush();
            assertEquals("after", NodeTopology.readLine(conn, in, 5), "the established connection survives the restart");
            assertEquals(handleBefore, chainHandle("services"), "the chain was rewritten in place, not recreated");
        } finally {
            conn.destroyForcibly();
        }
    }

    @Test
    @Order(15)
    void cleanupRemovesFerrysAndKubeProxysTablesAndNothingElse() throws Exception {
        fullSync(new NftSyncer(options, nft), services());
        topo.inNode("nft", "add", "table", "ip", "kube-proxy");
        topo.inNode("nft", "add", "table", "ip6", "kube-proxy");
        topo.inNode("nft", "add", "table", "inet", "someone-else");

        NftCleanup.Report ferry = new NftCleanup(nft).ferry(options.table());
        NftCleanup.Report kp = new NftCleanup(nft).kubeProxy();

        assertTrue(ferry.ok() && kp.ok(), ferry + " " + kp);
        assertEquals(List.of("ip ferry", "ip6 ferry"), ferry.removed());
        assertEquals(List.of("ip kube-proxy", "ip6 kube-proxy"), kp.removed());
        assertEquals("table inet someone-else", topo.inNode("nft", "list", "tables").strip());
        assertTrue(new NftCleanup(nft).ferry(options.table()).removed().isEmpty(), "a second cleanup finds nothing");
    }

    private static String chainHandle(String chain) throws IOException {
        String out = topo.inNode("nft", "-a", "list", "chain", "ip", "ferry", chain);
        int i = out.indexOf("# handle ");
        assertNotNull(out);
        return i < 0 ? out : out.substring(i, out.indexOf('\n', i));
    }

    /**
     * nft in the node namespace behind a wrapper that refuses a payload when a line matches the
     * pattern in control (reporting that line as nft does), to exercise the refusal paths.
     */
    private static KernelTool refusingNft(Path control) {
        String script = "payload=$(cat); pat=$(cat '" + control + "');"
                + " if [ -n \"$pat\" ]; then bad=$(printf '%s\\n' \"$payload\" | grep -n -m1 -- \"$pat\" | cut -d: -f1);"
                + " if [ -n \"$bad\" ]; then echo \"/dev/stdin:$bad:1-5: Error: injected refusal\" >&2; exit 1; fi; fi;"
                + " printf '%s\\n' \"$payload\" | exec ip netns exec " + topo.node + " \"$@\"";
        return new KernelTool(List.of("sh", "-c", script, "nft-wrapper"), Duration.ofSeconds(60));
    }
}
