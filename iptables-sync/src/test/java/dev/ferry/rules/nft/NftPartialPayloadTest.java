package dev.ferry.rules.nft;

import static dev.ferry.rules.nft.Services.svc;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.model.ServicePort;
import dev.ferry.model.ServicePortName;
import dev.ferry.rules.nft.NftRenderer.Validated;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** What partial and full payloads contain, checked on their text (no kernel needed). */
@Tag("unit")
class NftPartialPayloadTest {
    private final NftRenderer renderer = new NftRenderer(NftRendererGoldenTest.options());

    static List<ServicePort> many(int n) {
        List<ServicePort> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            Services s = svc("ns" + (i % 10), "svc" + i, "10.100." + (i / 250) + "." + (i % 250 + 1), 80).nodePort(31000 + i);
            for (int e = 0; e < 5; e++) {
                s.ep("10.244." + (i % 200) + "." + (e + 10), 8080);
            }
            out.add(s.build());
        }
        return out;
    }

    private Validated state(List<ServicePort> ports) {
        return renderer.validate(NftFamily.IPV4, renderer.renderAll(ports, NftFamily.IPV4));
    }

    @Test
    void oneEndpointChangeIsElementUpdatesOfThatServiceOnly() {
        List<ServicePort> before = many(1000);
        List<ServicePort> after = new ArrayList<>(before);
        ServicePort changed = before.get(500);
        List<dev.ferry.model.Endpoint> eps = new ArrayList<>(changed.endpoints());
        eps.set(2, svc("x", "y", "10.0.0.1", 1).ep("10.244.99.99", 8080).build().endpoints().get(0));
        after.set(500, changed.withEndpoints(eps));

        NftPayload p = renderer.partial(NftFamily.IPV4, state(before), state(after));

        String text = p.text();
        for (int line = 1; line <= p.lineCount(); line++) {
            assertEquals(changed.name(), p.ownerOfLine(line), "line " + line + " belongs to another service: " + p.line(line));
        }
        // endpoint 2's entries (ClusterIP, NodePort) and its hairpin entry replaced: 6 lines whatever the
        // number of services; no chain, rule or other service's entry is touched.
        String vip = changed.clusterIPs().get(0).getHostAddress() + " . tcp . " + changed.port();
        String nodePort = "tcp . " + changed.nodePort();
        String comment = " comment \"ns0/svc500/tcp/\"";
        assertEquals(List.of(
                "delete element ip ferry nodeport-endpoints-tcp { " + nodePort + " . 2 }",
                "delete element ip ferry service-endpoints-tcp { " + vip + " . 2 }",
                "delete element ip ferry service-hairpin { 10.244.100.12 . 10.244.100.12 . " + vip + " }",
                "add element ip ferry nodeport-endpoints-tcp { " + nodePort + " . 2" + comment + " : 10.244.99.99 . 8080 }",
                "add element ip ferry service-endpoints-tcp { " + vip + " . 2" + comment + " : 10.244.99.99 . 8080 }",
                "add element ip ferry service-hairpin { 10.244.99.99 . 10.244.99.99 . " + vip + comment + " }"),
                List.of(text.split("\n")), text);
    }

    @Test
    void anEndpointCountNotSeenBeforeCreatesItsPickChainBeforeTheEntriesJumpingToIt() {
        ServicePort two = svc("a", "web", "10.96.0.5", 80).ep("10.244.1.2", 80).ep("10.244.1.3", 80).build();
        ServicePort seven = two.withEndpoints(svc("a", "web", "10.96.0.5", 80).ep("10.244.1.2", 80).ep("10.244.1.3", 80)
                .ep("10.244.1.4", 80).ep("10.244.1.5", 80).ep("10.244.1.6", 80).ep("10.244.1.7", 80).ep("10.244.1.8", 80)
                .build().endpoints());

        String text = renderer.partial(NftFamily.IPV4, state(List.of(two)), state(List.of(seven))).text();

        assertTrue(text.startsWith("add chain ip ferry pick-cluster-7\nflush chain ip ferry pick-cluster-7\n"), text);
        assertTrue(text.contains("add rule ip ferry pick-cluster-7 dnat ip to ip daddr . meta l4proto . th dport"
                + " . numgen random mod 7 map @service-endpoints-tcp"), text);
        assertTrue(text.indexOf("pick-cluster-7 dnat") < text.indexOf("add element ip ferry service-ips { 10.96.0.5 . tcp . 80 comment \"a/web/tcp/\" : goto pick-cluster-7 }"),
                text);
        assertTrue(text.contains("add element ip ferry service-endpoints-tcp { 10.96.0.5 . tcp . 80 . 6 comment \"a/web/tcp/\" : 10.244.1.8 . 80 }"), text);
        assertFalse(text.contains("delete chain"), "pick chains are shared and left to the next full sync:\n" + text);
    }

    @Test
    void unchangedServicesGiveAnEmptyPartialPayload() {
        List<ServicePort> ports = many(50);
        assertTrue(renderer.partial(NftFamily.IPV4, state(ports), state(List.copyOf(ports))).isEmpty());
    }

    @Test
    void lastEndpointGoneMovesTheServiceFromServiceIpsToNoEndpointServices() {
        ServicePort withEp = svc("a", "web", "10.96.0.5", 80).ep("10.244.1.2", 80).build();
        ServicePort without = withEp.withEndpoints(List.of());

        String text = renderer.partial(NftFamily.IPV4, state(List.of(withEp)), state(List.of(without))).text();

        assertTrue(text.contains("delete element ip ferry service-ips { 10.96.0.5 . tcp . 80 }"), text);
        assertTrue(text.contains("delete element ip ferry service-endpoints-tcp { 10.96.0.5 . tcp . 80 . 0 }"), text);
        assertTrue(text.contains("delete element ip ferry service-hairpin { 10.244.1.2 . 10.244.1.2 . 10.96.0.5 . tcp . 80 }"), text);
        assertTrue(text.contains("add element ip ferry no-endpoint-services { 10.96.0.5 . tcp . 80 comment \"a/web/tcp/\" : goto reject-chain }"), text);

        ServicePort sticky = svc("a", "sticky", "10.96.0.6", 80).affinity(60).ep("10.244.1.2", 80).build();
        text = renderer.partial(NftFamily.IPV4, state(List.of(sticky)), state(List.of(sticky.withEndpoints(List.of())))).text();
        assertTrue(text.indexOf("delete element") < text.indexOf("delete chain"), "map entries go before the chains they point to:\n" + text);
    }

    @Test
    void removedServiceDeletesItsChainsAffinitySetsAndEntriesButKeepsASharedClusterIp() {
        ServicePort http = svc("a", "web", "10.96.0.5", 80).affinity(60).ep("10.244.1.2", 80).build();
        ServicePort https = svc("a", "web", "10.96.0.5", 443).portName("https", dev.ferry.model.Protocol.TCP)
                .ep("10.244.1.2", 443).build();

        String text = renderer.partial(NftFamily.IPV4, state(List.of(http, https)), state(List.of(https))).text();

        assertTrue(text.contains("delete element ip ferry service-ips { 10.96.0.5 . tcp . 80 }"), text);
        assertTrue(text.contains("delete set ip ferry affinity-"), text);
        assertTrue(text.contains("delete chain ip ferry service-"), text);
        assertTrue(text.indexOf("delete chain") < text.indexOf("delete set"), "sets go after the chains using them:\n" + text);
        assertFalse(text.contains("cluster-ips"), "10.96.0.5 still serves port 443:\n" + text);
    }

    @Test
    void aServiceClaimingAnotherServicesNodePortIsLeftOutWithTheOwnerNamed() {
        ServicePort first = svc("a", "first", "10.96.0.5", 80).nodePort(30080).ep("10.244.1.2", 80).build();
        ServicePort second = svc("b", "second", "10.96.0.6", 80).nodePort(30080).ep("10.244.1.3", 80).build();

        Validated v = state(List.of(second, first));

        assertEquals(Set.of(first.name()), v.services().keySet());
        assertEquals(1, v.rejected().size());
        assertEquals(second.name(), v.rejected().get(0).service());
        assertTrue(v.rejected().get(0).reason().contains("service-nodeports entry tcp . 30080 is already used by service a/first"),
                v.rejected().get(0).reason());
    }

    @Test
    void fullPayloadFlushesExistingChainsAndDeletesStaleOnesWithoutTouchingTheTable() {
        ServicePort web = svc("a", "web", "10.96.0.5", 80).affinity(60).ep("10.244.1.2", 80).build();
        ServicePort api = svc("a", "api", "10.96.0.6", 80).ep("10.244.1.2", 80).build();
        Validated v = state(List.of(web, api));
        String svcChain = v.services().get(web.name()).chains().keySet().iterator().next();

        String text = renderer.full(NftFamily.IPV4, v, Set.of("services", svcChain, "service-OLD-a/gone/tcp/",
                "pick-cluster-1", "pick-cluster-4"), Set.of("affinity-OLD-a/web/tcp/__10.244.9.9/80", "cluster-ips", "service-ips")).text();

        assertTrue(text.contains("flush chain ip ferry pick-cluster-1\n"), text);
        assertTrue(text.contains("delete chain ip ferry pick-cluster-4\n"), "an unused pick chain is removed:\n" + text);

        assertTrue(text.contains("flush chain ip ferry " + svcChain + "\n"), text);
        assertTrue(text.contains("flush chain ip ferry services\n"), text);
        assertTrue(text.contains("flush set ip ferry cluster-ips\n"), text);
        assertTrue(text.contains("flush map ip ferry service-ips\n"), text);
        assertTrue(text.contains("flush chain ip ferry service-OLD-a/gone/tcp/\n"), text);
        assertTrue(text.contains("delete chain ip ferry service-OLD-a/gone/tcp/\n"), text);
        assertTrue(text.contains("delete set ip ferry affinity-OLD-a/web/tcp/__10.244.9.9/80\n"), text);
        assertFalse(text.contains("delete table") || text.contains("flush table") || text.contains("flush ruleset"), text);
    }

    @Test
    void skeletonLinesHaveNoOwnerAndServiceLinesNameTheirService() {
        ServicePort web = svc("a", "web", "10.96.0.5", 80).ep("10.244.1.2", 80).build();
        NftPayload p = renderer.full(NftFamily.IPV4, state(List.of(web)), Set.of(), Set.of());
        assertNull(p.ownerOfLine(1));
        ServicePortName last = p.ownerOfLine(p.lineCount());
        assertEquals(web.name(), last, p.line(p.lineCount()));
    }
}
