package dev.ferry.rules.iptables;

import static dev.ferry.rules.RoutedNode.CLIENT_IP;
import static dev.ferry.rules.RoutedNode.NODE_IP;
import static dev.ferry.rules.RoutedNode.OTHER_CLIENT_IP;
import static dev.ferry.rules.RoutedNode.backendIp;
import static dev.ferry.testkit.ServicePorts.ep;
import static dev.ferry.testkit.ServicePorts.svc;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.model.Cidr;
import dev.ferry.model.ServicePort;
import dev.ferry.rules.ApplyException;
import dev.ferry.rules.Backoff;
import dev.ferry.rules.Cleanup;
import dev.ferry.rules.KernelTool;
import dev.ferry.rules.RoutedNode;
import dev.ferry.rules.SyncLoop;
import dev.ferry.select.EndpointSelector;
import dev.ferry.select.NodeInfo;
import dev.ferry.testkit.KernelTest;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * iptables mode with real traffic: the rendered rules applied by the real iptables-restore inside a
 * node namespace, requests from a client namespace to socat backends in backend namespaces.
 */
@KernelTest(value = "iptables traffic tests", tools = {"ip", "iptables-restore", "socat", "conntrack", "ss"})
class IptablesTrafficTest {
    static final NodeInfo NODE = new NodeInfo("node-a", "");
    static final RenderOptions OPTS = RenderOptions.defaults(false).withClusterCidrs(List.of(Cidr.parse("10.244.0.0/16")));
    static RoutedNode net;
    static KernelTool nodeTool;
    IptablesSyncer syncer;

    @BeforeAll
    static void topology() throws IOException {
        net = new RoutedNode();
        nodeTool = net.in(net.node);
        for (int i = 1; i <= 3; i++) {
            net.tcpEcho(i, 8080);
        }
        net.tcpCat(1, 9090);
    }

    @AfterAll
    static void teardown() {
        if (net != null) net.close();
    }

    @BeforeEach
    void freshSyncer() {
        syncer = IptablesSyncer.ipv4(nodeTool, OPTS);
    }

    static ServicePort web(int... backends) {
        var s = svc("web").clusterIP("10.96.0.10").port(80).nodePort(30080).externalIP("10.201.0.5");
        for (int b : backends) s.ep(ep(backendIp(b), 8080, "node-a"));
        return s.build();
    }

    static List<ServicePort> baseline() {
        return EndpointSelector.selectAll(List.of(
                web(1, 2),
                svc("lb").clusterIP("10.96.0.20").port(80).lbIP("10.200.0.10").sourceRange(CLIENT_IP + "/32")
                        .ep(ep(backendIp(1), 8080, "node-a")).build(),
                svc("local").clusterIP("10.96.0.11").port(80).nodePort(30081).local(30999)
                        .ep(ep(backendIp(1), 8080, "node-a")).ep(ep(backendIp(2), 8080, "node-b")).build(),
                svc("sticky").clusterIP("10.96.0.12").port(80).clientIP(600)
                        .ep(ep(backendIp(1), 8080, "node-a")).ep(ep(backendIp(2), 8080, "node-a"))
                        .ep(ep(backendIp(3), 8080, "node-a")).build(),
                svc("empty").clusterIP("10.96.0.13").port(80).nodePort(30083).build(),
                svc("only1").clusterIP("10.96.0.15").port(80).ep(ep(backendIp(1), 8080, "node-a")).build(),
                svc("chat").clusterIP("10.96.0.14").port(80).ep(ep(backendIp(1), 9090, "node-a")).build()), NODE);
    }

    static Set<String> backendsSeen(int requests, RequestFn fn) throws IOException {
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < requests; i++) {
            String answer = fn.get();
            assertFalse(answer.startsWith("ERR"), answer);
            seen.add(answer.split(" ")[0]);
        }
        return seen;
    }

    interface RequestFn {
        String get() throws IOException;
    }

    @Test
    void clusterIpSpreadsOverBackends() throws Exception {
        syncer.sync(baseline(), true);
        assertEquals(Set.of("b1", "b2"), backendsSeen(40, () -> net.tcp(CLIENT_IP, "10.96.0.10", 80)));
    }

    @Test
    void nodePortAndExternalIpReachTheService() throws Exception {
        syncer.sync(baseline(), true);
        assertTrue(net.tcp(CLIENT_IP, NODE_IP, 30080).matches("b[12] .*"), "NodePort");
        assertTrue(net.tcp(CLIENT_IP, "10.201.0.5", 80).matches("b[12] .*"), "externalIP");
    }

    @Test
    void loadBalancerSourceRangesAllowAndDeny() throws Exception {
        syncer.sync(baseline(), true);
        assertTrue(net.tcp(CLIENT_IP, "10.200.0.10", 80).startsWith("b1 "), "allowed source");
        String denied = net.tcp(OTHER_CLIENT_IP, "10.200.0.10", 80);
        assertTrue(denied.startsWith("ERR"), "a source outside loadBalancerSourceRanges got: " + denied);
    }

    @Test
    void externalTrafficPolicyLocalSendsOnlyToLocalEndpoints() throws Exception {
        syncer.sync(baseline(), true);
        assertEquals(Set.of("b1"), backendsSeen(20, () -> net.tcp(CLIENT_IP, NODE_IP, 30081)));
        // the ClusterIP still uses every endpoint
        assertEquals(Set.of("b1", "b2"), backendsSeen(40, () -> net.tcp(CLIENT_IP, "10.96.0.11", 80)));
    }

    @Test
    void clientIpAffinitySticks() throws Exception {
        syncer.sync(baseline(), true);
        assertEquals(1, backendsSeen(15, () -> net.tcp(CLIENT_IP, "10.96.0.12", 80)).size());
    }

    @Test
    void portWithoutEndpointsIsRejectedAtOnce() throws Exception {
        syncer.sync(baseline(), true);
        long t0 = System.nanoTime();
        String answer = net.tcp(CLIENT_IP, "10.96.0.13", 80);
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertTrue(answer.contains("Connection refused"), "expected a REJECT, got: " + answer);
        assertTrue(ms < 2500, "refused only after " + ms + " ms: that is a timeout, not a REJECT"); // deadline is 3 s
        assertTrue(net.tcp(CLIENT_IP, NODE_IP, 30083).contains("Connection refused"), "NodePort without endpoints");
    }

    @Test
    void masqueradeFollowsClusterCidr() throws Exception {
        syncer.sync(baseline(), true);
        // from outside 10.244.0.0/16: masqueraded to the node's address on the backend's link
        assertEquals("b1 10.244.1.1", net.tcp(CLIENT_IP, "10.96.0.15", 80).split(":")[0]);
        // from a pod inside the cluster CIDR: source kept
        assertEquals("b1 10.244.3.2", net.tcpFromBackend(3, "10.96.0.15", 80).split(":")[0]);
    }

    @Test
    void udpServiceKeepsWorkingWhileItsBackendIsReplaced() throws Exception {
        Process old = net.udpEcho(1, 5353);
        net.udpEcho(2, 5353);
        ServicePort dns1 = svc("dns").udp().clusterIP("10.96.0.53").port(53).ep(ep(backendIp(1), 5353, "node-a")).build();
        ServicePort dns2 = svc("dns").udp().clusterIP("10.96.0.53").port(53).ep(ep(backendIp(2), 5353, "node-a")).build();
        syncer.sync(EndpointSelector.selectAll(List.of(dns1), NODE), true);
        assertEquals("b1", net.udp("10.96.0.53", 53, 40053));
        RoutedNode.stop(old);
        syncer.sync(EndpointSelector.selectAll(List.of(dns2), NODE), false);
        // same 5-tuple: without the conntrack cleanup it would follow the stale entry to the dead b1
        assertEquals("b2", net.udp("10.96.0.53", 53, 40053));
    }

    @Test
    void partialSyncTouchesOnlyTheChangedServicesChains() throws Exception {
        syncer.sync(baseline(), true);
        List<ServicePort> changed = new ArrayList<>(baseline());
        changed.set(0, EndpointSelector.select(web(1, 3), NODE));
        syncer.sync(changed, false);
        Rendering r = syncer.lastRendering(false);
        String name = "default/web";
        assertEquals(List.of("nat:" + ChainNames.service(name, "tcp"),
                        "nat:" + ChainNames.endpoint(name, "tcp", backendIp(3) + ":8080")),
                r.writtenChains(), r.payload());
        assertEquals(List.of("nat:" + ChainNames.endpoint(name, "tcp", backendIp(2) + ":8080")), r.deletedChains());
        assertEquals(Set.of("b1", "b3"), backendsSeen(40, () -> net.tcp(CLIENT_IP, "10.96.0.10", 80)));
    }

    @Test
    void failedApplyKeepsTrafficOnTheOldRulesAndIsRetried() throws Exception {
        syncer.sync(baseline(), true);
        // Something else refers to web's b2 endpoint chain: deleting it must fail in the kernel.
        String sepB2 = ChainNames.endpoint("default/web", "tcp", backendIp(2) + ":8080");
        net.sh(net.node, "iptables -w -t nat -A OUTPUT -d 192.0.2.1/32 -j " + sepB2);
        List<ServicePort> changed = new ArrayList<>(baseline());
        changed.set(0, EndpointSelector.select(web(1, 3), NODE));
        ApplyException e = assertThrows(ApplyException.class, () -> syncer.sync(changed, false));
        assertTrue(e.getMessage().contains("iptables-restore"), e.getMessage());
        assertEquals(Set.of("b1", "b2"), backendsSeen(40, () -> net.tcp(CLIENT_IP, "10.96.0.10", 80)),
                "the refused transaction must leave the old rules (b1, b2) in place");

        try (SyncLoop loop = new SyncLoop("test", syncer, Duration.ofHours(1),
                new Backoff(Duration.ofMillis(200), Duration.ofSeconds(1))).start()) {
            long gen = loop.update(changed);
            awaitFailure(loop);
            net.sh(net.node, "iptables -w -t nat -D OUTPUT -d 192.0.2.1/32 -j " + sepB2);
            long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
            while (loop.generationApplied() < gen) {
                assertTrue(System.nanoTime() < deadline, "retry did not succeed within 20 s: " + loop.counters());
                Thread.sleep(50);
            }
            assertTrue(loop.counters().failures.get() >= 1);
        }
        assertEquals(Set.of("b1", "b3"), backendsSeen(40, () -> net.tcp(CLIENT_IP, "10.96.0.10", 80)));
    }

    private static void awaitFailure(SyncLoop loop) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (loop.counters().failures.get() == 0) {
            assertTrue(System.nanoTime() < deadline, "the blocked apply did not fail within 20 s");
            Thread.sleep(20);
        }
    }

    @Test
    void restartDoesNotFlushAndEstablishedConnectionsContinue() throws Exception {
        syncer.sync(baseline(), true);
        try (RoutedNode.Session s = net.session("10.96.0.14", 80)) {
            assertEquals("one", s.roundTrip("one"));
            // a "restarted" Ferry: a new syncer that knows nothing, constructed (no kernel change) ...
            IptablesSyncer restarted = IptablesSyncer.ipv4(nodeTool, OPTS);
            assertTrue(net.sh(net.node, "iptables-save -t nat").contains("KUBE-SVC-"), "construction changed nothing");
            assertEquals("two", s.roundTrip("two"));
            // ... and its first sync is one --noflush transaction that replaces the rules in place
            restarted.sync(baseline(), true);
            assertEquals("three", s.roundTrip("three"));
        }
        assertTrue(net.tcp(CLIENT_IP, "10.96.0.10", 80).matches("b[12] .*"));
    }

    @Test
    void restartDeletesChainsOfServicesThatWentAwayMeanwhile() throws Exception {
        syncer.sync(baseline(), true);
        IptablesSyncer restarted = IptablesSyncer.ipv4(nodeTool, OPTS);
        List<ServicePort> fewer = new ArrayList<>(baseline());
        fewer.remove(0); // web is gone
        restarted.sync(fewer, true);
        String nat = net.sh(net.node, "iptables-save -t nat");
        assertFalse(nat.contains(ChainNames.service("default/web", "tcp")), nat);
        assertFalse(net.tcp(CLIENT_IP, "10.96.0.10", 80).startsWith("b"), "web still answers after removal");
    }

    @Test
    void cleanupLeavesTheTablesEmpty() throws Exception {
        syncer.sync(baseline(), true);
        Cleanup.Report report = Cleanup.run(nodeTool, true);
        assertTrue(report.ok(), report.failed().toString());
        for (String table : List.of("nat", "filter")) {
            String saved = net.sh(net.node, "iptables-save -t " + table);
            assertFalse(saved.contains("KUBE-"), table + " still has Ferry's chains:\n" + saved);
            assertFalse(saved.contains("\n-A "), table + " still has rules:\n" + saved);
        }
    }

    @Test
    void goldenPayloadsAreAcceptedByTheKernel() throws Exception {
        for (boolean v6 : new boolean[] {false, true}) {
            String payload = IptablesRenderer.render(GoldenServices.all(), RenderOptions.defaults(v6)
                    .withClusterCidrs(List.of(Cidr.parse("10.0.0.0/8"), Cidr.parse("fd00:10:244::/48"))));
            var r = nodeTool.run(List.of(v6 ? "ip6tables-restore" : "iptables-restore", "--test", "--noflush"), payload);
            assertTrue(r.ok(), r.stderr());
        }
    }

    @Test
    void errorOriginIsTheServiceNamedInTheLinesComment() {
        assertEquals("ns4/svc4:p80", IptablesSyncer.originOf(
                "-A KUBE-SVC-X -m comment --comment \"ns4/svc4:p80 -> 10.180.0.4:8080\" -j KUBE-SEP-Y"));
        assertEquals("ns1/svc1:p80", IptablesSyncer.originOf("-A KUBE-SEP-Z -m comment --comment ns1/svc1:p80 -s 10.0.0.1 -j KUBE-MARK-MASQ"));
        assertEquals("", IptablesSyncer.originOf("-X KUBE-SEP-Z"));
        assertNotNull(IptablesSyncer.originOf(""));
    }
}
