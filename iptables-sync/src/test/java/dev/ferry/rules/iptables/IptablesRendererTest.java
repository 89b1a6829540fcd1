package dev.ferry.rules.iptables;

import static dev.ferry.testkit.ServicePorts.ep;
import static dev.ferry.testkit.ServicePorts.svc;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.model.Cidr;
import dev.ferry.model.ServicePort;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

@Tag("unit")
class IptablesRendererTest {
    static final RenderOptions V4 = RenderOptions.defaults(false).withClusterCidrs(List.of(Cidr.parse("10.0.0.0/8")));

    @Test
    void chainNamesMatchKubeProxysHashes() {
        // values from kube-proxy's proxier_test.go fixtures
        assertEquals("KUBE-SVC-XPGD46QRK7WJZT7O", ChainNames.service("ns1/svc1:p80", "tcp"));
        assertEquals("KUBE-SEP-SXIVWICOYRO3J4NJ", ChainNames.endpoint("ns1/svc1:p80", "tcp", "10.180.0.1:80"));
    }

    @Test
    void payloadMatchesTheGoldenFileForIpv4() throws IOException {
        golden("golden-ipv4.txt", IptablesRenderer.render(GoldenServices.all(), V4));
    }

    @Test
    void payloadMatchesTheGoldenFileForIpv6() throws IOException {
        golden("golden-ipv6.txt", IptablesRenderer.render(GoldenServices.all(),
                RenderOptions.defaults(true).withClusterCidrs(List.of(Cidr.parse("fd00:10:244::/48")))));
    }

    @Test
    void probabilitiesSplitEvenlyLikeKubeProxy() {
        String p = IptablesRenderer.render(GoldenServices.all(), V4);
        assertTrue(p.contains("--probability 0.3333333333 -j KUBE-SEP-"), p);
        assertTrue(p.contains("--probability 0.5000000000 -j KUBE-SEP-"), p);
    }

    @Test
    void oneEndpointChangeRewritesOnlyThatServicesChains() {
        List<ServicePort> before = manyServices(50);
        Rendering full = IptablesRenderer.render(before, V4, Map.of(), true);
        List<ServicePort> after = new ArrayList<>(before);
        ServicePort changed = after.get(17);
        after.set(17, changed.withEndpoints(List.of(changed.endpoints().get(0), ep("10.244.99.99", 8080, "node-a"))));
        Rendering partial = IptablesRenderer.render(after, V4, full.chainHashes(), false);

        String name = changed.name().toString();
        String svc = "nat:" + ChainNames.service(name, "tcp");
        String newSep = "nat:" + ChainNames.endpoint(name, "tcp", "10.244.99.99:8080");
        String oldSep = "nat:" + ChainNames.endpoint(name, "tcp", changed.endpoints().get(1).hostPort());
        assertEquals(List.of(svc, newSep), partial.writtenChains(), partial.payload());
        assertEquals(List.of(oldSep), partial.deletedChains());
        assertFalse(partial.payload().contains("KUBE-SERVICES"), partial.payload());
        assertFalse(partial.payload().contains("*filter"), partial.payload());
        assertTrue(partial.payload().endsWith("-X " + oldSep.substring(4) + "\nCOMMIT\n"), partial.payload());
    }

    @Test
    void cachedPartialRenderEqualsAnUncachedOneEvenAfterAFailedApply() {
        List<ServicePort> before = manyServices(30);
        RenderCache cache = new RenderCache();
        Rendering full = IptablesRenderer.render(before, V4, Map.of(), true, cache);
        assertEquals(30, cache.size());
        List<ServicePort> after = new ArrayList<>(before);
        after.set(3, after.get(3).withEndpoints(List.of(ep("10.244.77.7", 8080, "node-a"))));
        Rendering cached = IptablesRenderer.render(after, V4, full.chainHashes(), false, cache);
        Rendering plain = IptablesRenderer.render(after, V4, full.chainHashes(), false);
        assertEquals(plain.payload(), cached.payload());
        assertEquals(plain.chainHashes(), cached.chainHashes());
        // the apply of `cached` failed: the kernel still has `full`; the retry must write service 3 again
        Rendering retry = IptablesRenderer.render(after, V4, full.chainHashes(), false, cache);
        assertEquals(plain.payload(), retry.payload());
    }

    @Test
    void cachedRendersChainedAsTheSyncerDoesMatchUncachedOnesOverRandomChanges() {
        // The syncer passes the previous rendering's own map back as previous; the cached path then
        // trusts its entries without looking their chains up and skips the stale-chain scan when no
        // chain went away. Both shortcuts must give exactly the uncached result, deletions included.
        java.util.Random rnd = new java.util.Random(6);
        List<ServicePort> ports = new ArrayList<>(manyServices(40));
        RenderCache cache = new RenderCache();
        Map<String, Long> previous = IptablesRenderer.render(ports, V4, Map.of(), true, cache).chainHashes();
        int added = 0;
        for (int step = 0; step < 200; step++) {
            int op = rnd.nextInt(7);
            int k = rnd.nextInt(ports.size());
            ServicePort sp = ports.get(k);
            switch (op) {
                case 0 -> ports.set(k, sp.withEndpoints(List.of(ep("10.245." + step % 250 + ".9", 8080, "node-a"))));
                case 1 -> ports.set(k, sp.withEndpoints(new ArrayList<>(sp.endpoints()))); // equal, another object
                case 2 -> { if (ports.size() > 5) ports.remove(k); }
                case 3 -> ports.add(svc("n" + added++).clusterIP("10.97." + (added / 250) + "." + (added % 250 + 1))
                        .port(80).ep("10.246." + (added % 250) + ".1", 8080).build());
                case 4 -> ports.set(k, svc("bad" + step).clusterIP("10.98.0." + (step % 250 + 1)).ep("10.244.9.9", 0).build());
                case 5 -> ports.set(k, svc(sp.name().name()).clusterIP("10.99." + (step / 250) + "." + (step % 250 + 1))
                        .port(80).ep("10.244.1.1", 8080).build()); // same name, other KUBE-SERVICES line
                default -> { } // nothing changed
            }
            Rendering plain = IptablesRenderer.render(ports, V4, previous, false);
            Rendering cached = IptablesRenderer.render(ports, V4, previous, false, cache);
            assertEquals(plain.payload(), cached.payload(), "step " + step + " op " + op);
            assertEquals(plain.chainHashes(), cached.chainHashes(), "step " + step);
            assertEquals(plain.deletedChains(), cached.deletedChains(), "step " + step);
            Map<String, Long> now = cached.chainHashes();
            assertEquals(previous.keySet().stream().filter(key -> key.startsWith("nat:") && !now.containsKey(key)
                            && ChainNames.isServiceChain(key.substring(4))).sorted().toList(), cached.deletedChains(),
                    "step " + step + ": every service chain that left must be deleted");
            assertEquals(plain.rejected(), cached.rejected(), "step " + step);
            previous = cached.chainHashes();
        }
    }

    @Test
    void unchangedStateRendersAnEmptyPartialPayload() {
        List<ServicePort> ports = manyServices(10);
        Rendering full = IptablesRenderer.render(ports, V4, Map.of(), true);
        Rendering again = IptablesRenderer.render(ports, V4, full.chainHashes(), false);
        assertTrue(again.isEmpty(), again.payload());
    }

    @Test
    void badServiceIsLeftOutAndTheOthersRendered() {
        List<ServicePort> ports = new ArrayList<>(manyServices(3));
        ports.add(svc("broken").clusterIP("10.96.9.9").ep("10.244.9.9", 0).build());
        Rendering r = IptablesRenderer.render(ports, V4, Map.of(), true);
        assertEquals(1, r.rejected().size());
        assertFalse(r.payload().contains("default/broken"));
        assertTrue(r.payload().contains("default/s2 cluster IP"));
    }

    @Test
    void masqueradeAllMarksEveryClusterIpPacket() {
        String p = IptablesRenderer.render(manyServices(1), V4.withMasqueradeAll(true));
        assertTrue(p.contains("--dport 80 -j KUBE-MARK-MASQ"), p);
        assertFalse(p.contains("! -s 10.0.0.0/8"), p);
    }

    @Test
    void nodePortAddressesRestrictTheNodePortJump() {
        String p = IptablesRenderer.render(manyServices(1), V4.withNodePortAddresses(List.of(Cidr.parse("192.168.0.0/16"))));
        assertTrue(p.contains("-d 192.168.0.0/16 -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS"), p);
    }

    static List<ServicePort> manyServices(int n) {
        List<ServicePort> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            out.add(svc("s" + i).clusterIP("10.96." + (i / 250) + "." + (i % 250 + 1)).port(80)
                    .ep("10.244." + (i % 200) + ".1", 8080).ep("10.244." + (i % 200) + ".2", 8080).build());
        }
        return out;
    }

    static void golden(String file, String actual) throws IOException {
        Path p = Path.of("src/test/resources/iptables", file);
        if (Boolean.getBoolean("ferry.golden.update") || !Files.exists(p)) {
            Files.createDirectories(p.getParent());
            Files.writeString(p, actual, StandardCharsets.UTF_8);
        }
        assertEquals(Files.readString(p, StandardCharsets.UTF_8), actual,
                "payload differs from " + p + " (rerun with -Dferry.golden.update=true after checking the diff)");
    }
}
