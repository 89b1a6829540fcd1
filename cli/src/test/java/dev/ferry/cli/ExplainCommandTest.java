package dev.ferry.cli;

import static org.junit.jupiter.api.Assertions.*;

import dev.ferry.conntrack.AffinityKey;
import dev.ferry.conntrack.ConntrackConfig;
import dev.ferry.conntrack.ConntrackState;
import dev.ferry.model.Cidr;
import dev.ferry.model.Endpoint;
import dev.ferry.model.IpAddresses;
import dev.ferry.model.Protocol;
import dev.ferry.model.ServicePort;
import dev.ferry.model.ServicePortName;
import dev.ferry.model.ServiceType;
import dev.ferry.model.SessionAffinity;
import dev.ferry.model.TrafficPolicy;
import dev.ferry.select.EndpointSelector;
import dev.ferry.select.NodeInfo;
import dev.ferry.table.ServiceTable;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.json.JsonMapper;

/** `ferry explain` for each frontend kind and each reason an endpoint is or is not a candidate. */
@Tag("unit")
class ExplainCommandTest {
    static final NodeInfo NODE = new NodeInfo("me", "a");
    @TempDir
    Path dir;
    ServiceTable table;

    static Endpoint ep(String ip, boolean ready, boolean terminating, String node, String zone, List<String> hints) {
        return new Endpoint(IpAddresses.parse(ip), 8080, ready, ready || terminating, terminating, node, zone, hints, "");
    }

    static ServicePort svc(String name, ServiceType type, String clusterIp, int nodePort, List<String> externalIPs,
                           List<String> lbIPs, List<String> ranges, TrafficPolicy etp, String distribution,
                           SessionAffinity affinity, String algorithm, Endpoint... eps) {
        return new ServicePort(new ServicePortName("demo", name, "", Protocol.TCP), type, false, "",
                List.of(IpAddresses.parse(clusterIp)), 80, "8080", nodePort,
                externalIPs.stream().map(IpAddresses::parse).toList(), lbIPs.stream().map(IpAddresses::parse).toList(),
                affinity, affinity == SessionAffinity.CLIENT_IP ? 600 : 0, etp, TrafficPolicy.CLUSTER,
                ranges.stream().map(Cidr::parse).toList(), 0, distribution, false, algorithm, false, List.of(eps));
    }

    @BeforeEach
    void fill() throws Exception {
        table = ServiceTable.create(dir, 16L << 20, 1000, System::currentTimeMillis);
        List<ServicePort> ports = List.of(
                svc("web", ServiceType.CLUSTER_IP, "10.96.0.1", 0, List.of(), List.of(), List.of(), TrafficPolicy.CLUSTER, "",
                        SessionAffinity.NONE, "",
                        ep("10.244.0.1", true, false, "me", "a", List.of()),
                        ep("10.244.0.2", false, false, "other", "b", List.of()),
                        ep("10.244.0.3", false, true, "other", "b", List.of())),
                svc("local", ServiceType.NODE_PORT, "10.96.0.2", 30080, List.of("192.0.2.10"), List.of(), List.of(),
                        TrafficPolicy.LOCAL, "", SessionAffinity.NONE, "mh",
                        ep("10.244.1.1", true, false, "me", "a", List.of()),
                        ep("10.244.1.2", true, false, "other", "b", List.of())),
                svc("lb", ServiceType.LOAD_BALANCER, "10.96.0.3", 30081, List.of(), List.of("203.0.113.5"),
                        List.of("198.51.100.0/24"), TrafficPolicy.CLUSTER, "", SessionAffinity.CLIENT_IP, "",
                        ep("10.244.2.1", true, false, "me", "a", List.of())),
                svc("zoned", ServiceType.CLUSTER_IP, "10.96.0.4", 0, List.of(), List.of(), List.of(), TrafficPolicy.CLUSTER,
                        "PreferClose", SessionAffinity.NONE, "",
                        ep("10.244.3.1", true, false, "x", "a", List.of("a")),
                        ep("10.244.3.2", true, false, "y", "b", List.of("b"))),
                svc("draining", ServiceType.CLUSTER_IP, "10.96.0.5", 0, List.of(), List.of(), List.of(), TrafficPolicy.CLUSTER,
                        "", SessionAffinity.NONE, "",
                        ep("10.244.4.1", false, true, "x", "a", List.of())));
        table.replaceAll(EndpointSelector.selectAll(ports, NODE));
    }

    @AfterEach
    void close() throws Exception {
        table.close();
    }

    Map<?, ?> explain(String from, String dst) throws Exception {
        Cli r = Cli.run("explain", "--from", from, dst, "-o", "json", "--state-dir", dir.toString());
        assertEquals(0, r.exit(), r.toString());
        return JsonMapper.builder().build().readValue(r.out(), Map.class);
    }

    static Map<?, ?> endpoint(Map<?, ?> r, String hp) {
        return ((List<?>) r.get("endpoints")).stream().map(o -> (Map<?, ?>) o)
                .filter(m -> m.get("endpoint").equals(hp)).findFirst().orElseThrow(() -> new AssertionError(hp + " in " + r));
    }

    @Test
    void aClusterIpShowsReadyCandidatesAndWhyTheOthersAreNot() throws Exception {
        Map<?, ?> r = explain("10.1.1.1", "10.96.0.1:80/TCP");
        assertEquals("demo/web (TCP)", r.get("match"));
        assertEquals("ClusterIP", r.get("frontend"));
        assertEquals("ready", endpoint(r, "10.244.0.1:8080").get("reason"));
        assertEquals("not ready", endpoint(r, "10.244.0.2:8080").get("reason"));
        assertEquals("terminating: used only when no ready endpoint exists", endpoint(r, "10.244.0.3:8080").get("reason"));
        assertEquals("10.244.0.1:8080", r.get("backend").toString().replace("one of ", ""));
        assertEquals("rr (node default)", r.get("algorithm"));
        String ipt = ((Map<?, ?>) r.get("rules")).get("iptables").toString();
        assertTrue(ipt.startsWith("KUBE-SERVICES -> KUBE-SVC-") && ipt.contains("KUBE-SEP-"), ipt);
    }

    @Test
    void theIptablesPathUsesKubeProxysChainNames() throws Exception {
        // kube-proxy's own fixture: ns1/svc1:p80 over TCP is KUBE-SVC-XPGD46QRK7WJZT7O.
        table.put(new ServicePort(new ServicePortName("ns1", "svc1", "p80", Protocol.TCP), ServiceType.CLUSTER_IP, false,
                "", List.of(IpAddresses.parse("10.96.9.1")), 80, "80", 0, List.of(), List.of(), null, 0, null, null,
                List.of(), 0, "", false, "", false, List.of()));
        Map<?, ?> r = explain("10.1.1.1", "10.96.9.1:80/TCP");
        Map<?, ?> rules = (Map<?, ?>) r.get("rules");
        assertEquals("KUBE-SERVICES -> REJECT (no endpoints)", rules.get("iptables"), r.toString());
        assertTrue(rules.get("nftables").toString().contains("no-endpoint-services[10.96.9.1 . tcp . 80]"), r.toString());
        table.put(new ServicePort(new ServicePortName("ns1", "svc1", "p80", Protocol.TCP), ServiceType.CLUSTER_IP, false,
                "", List.of(IpAddresses.parse("10.96.9.1")), 80, "80", 0, List.of(), List.of(), null, 0, null, null,
                List.of(), 0, "", false, "", false, List.of(ep("10.244.9.9", true, false, "me", "a", List.of())
                        .withSelection(true, false))));
        Map<?, ?> paths = (Map<?, ?>) explain("10.1.1.1", "10.96.9.1:80/TCP").get("rules");
        String path = paths.get("iptables").toString();
        assertTrue(path.startsWith("KUBE-SERVICES -> KUBE-SVC-XPGD46QRK7WJZT7O -> one of KUBE-SEP-"), path);
        assertTrue(paths.get("nftables").toString().startsWith("table ferry: service-ips[10.96.9.1 . tcp . 80] -> pick-cluster-1"
                + " -> service-endpoints-tcp[10.96.9.1 . tcp . 80 . 0..0]"), paths.toString());
    }

    @Test
    void aNodePortUnderLocalPolicyExcludesOtherNodes() throws Exception {
        Map<?, ?> r = explain("10.1.1.1", "172.18.0.2:30080/TCP");
        assertTrue(r.get("frontend").toString().startsWith("NodePort 30080"), r.toString());
        assertEquals(true, endpoint(r, "10.244.1.1:8080").get("candidate"));
        assertEquals("other node (other) under externalTrafficPolicy: Local", endpoint(r, "10.244.1.2:8080").get("reason"));
        assertTrue(((Map<?, ?>) r.get("rules")).get("nftables").toString().contains("service-nodeports[tcp . 30080] -> the service's chain"),
                r.toString());
        assertEquals("mh (annotation)", r.get("algorithm"));
        assertEquals("10.244.1.1:8080", r.get("backend"), "mh over one candidate is exact: " + r);
        assertTrue(r.get("why").toString().startsWith("mh (Maglev"), r.toString());
    }

    @Test
    void anExternalIpIsAnExternalFrontend() throws Exception {
        Map<?, ?> r = explain("10.1.1.1", "192.0.2.10:80/TCP");
        assertEquals("externalIP", r.get("frontend"));
        assertEquals("externalTrafficPolicy: Local", r.get("policy"));
    }

    @Test
    void aLoadBalancerIpDeniesClientsOutsideItsSourceRanges() throws Exception {
        Map<?, ?> denied = explain("10.9.9.9", "203.0.113.5:80/TCP");
        assertEquals("LoadBalancer IP", denied.get("frontend"));
        assertEquals(false, endpoint(denied, "10.244.2.1:8080").get("candidate"));
        assertTrue(endpoint(denied, "10.244.2.1:8080").get("reason").toString().startsWith("source range denied"), denied.toString());
        assertTrue(denied.get("verdict").toString().startsWith("refused"), denied.toString());
        Map<?, ?> allowed = explain("198.51.100.7", "203.0.113.5:80/TCP");
        assertEquals(true, endpoint(allowed, "10.244.2.1:8080").get("candidate"));
    }

    @Test
    void topologyRoutingExcludesOtherZones() throws Exception {
        Map<?, ?> r = explain("10.1.1.1", "10.96.0.4:80/TCP");
        assertEquals("ready", endpoint(r, "10.244.3.1:8080").get("reason"));
        assertEquals("other zone under topology routing (hints: b)", endpoint(r, "10.244.3.2:8080").get("reason"));
    }

    @Test
    void terminatingEndpointsServeWhenNothingIsReady() throws Exception {
        Map<?, ?> r = explain("10.1.1.1", "10.96.0.5:80/TCP");
        assertEquals(true, endpoint(r, "10.244.4.1:8080").get("candidate"));
        assertTrue(endpoint(r, "10.244.4.1:8080").get("reason").toString().startsWith("terminating fallback"), r.toString());
    }

    @Test
    void anAffinityEntryNamesTheBackendAndItsExpiry() throws Exception {
        try (ConntrackState s = ConntrackState.open(dir, ConntrackConfig.DEFAULTS)) {
            dev.ferry.table.ServicePortView v = new dev.ferry.table.ServicePortView();
            assertTrue(table.reader().lookup("demo", "lb", "", Protocol.TCP, v));
            AffinityKey k = new AffinityKey().clientIp(IpAddresses.parse("198.51.100.7"))
                    .servicePortId(dev.ferry.proxy.ProxyKeys.affinityId(v));
            s.affinity().record(k, new dev.ferry.conntrack.Endpoint().ip(IpAddresses.parse("10.244.2.1")).port(8080),
                    System.currentTimeMillis(), 600_000);
        }
        Map<?, ?> r = explain("198.51.100.7", "203.0.113.5:80/TCP");
        assertEquals("10.244.2.1:8080", r.get("backend"));
        assertTrue(r.get("why").toString().startsWith("ClientIP affinity entry, expires in 5"), r.toString());
    }

    @Test
    void aDestinationNoServiceServesSaysSo() throws Exception {
        Map<?, ?> r = explain("10.1.1.1", "10.96.9.9:80/UDP");
        assertEquals("none", r.get("match"));
        assertTrue(r.get("verdict").toString().startsWith("no service port serves"), r.toString());
    }

    @Test
    void theTextOutputListsEveryEndpointWithItsReason() {
        Cli r = Cli.run("explain", "--from", "10.1.1.1", "10.96.0.1:80/TCP", "--state-dir", dir.toString());
        assertEquals(0, r.exit(), r.toString());
        assertTrue(r.out().contains("match:       demo/web (TCP)") && r.out().contains("ENDPOINT")
                && r.out().contains("10.244.0.2:8080") && r.out().contains("not ready"), r.out());
    }

    @Test
    void aMalformedDestinationIsBadUsage() {
        Cli r = Cli.run("explain", "--from", "10.1.1.1", "10.96.0.1/TCP", "--state-dir", dir.toString());
        assertEquals(2, r.exit(), r.toString());
        assertTrue(r.err().contains("missing :PORT"), r.toString());
        Cli r2 = Cli.run("explain", "--from", "nope", "10.96.0.1:80/TCP", "--state-dir", dir.toString());
        assertEquals(2, r2.exit(), r2.toString());
        assertTrue(r2.err().contains("--from"), r2.toString());
    }
}
