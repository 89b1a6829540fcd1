package dev.ferry.rules.iptables;

import static dev.ferry.rules.RoutedNode.CLIENT_IP;
import static dev.ferry.rules.RoutedNode.backendIp;
import static dev.ferry.testkit.ServicePorts.ep;
import static dev.ferry.testkit.ServicePorts.svc;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.model.Cidr;
import dev.ferry.model.ServicePort;
import dev.ferry.rules.Cleanup;
import dev.ferry.rules.KernelTool;
import dev.ferry.rules.RoutedNode;
import dev.ferry.select.EndpointSelector;
import dev.ferry.select.NodeInfo;
import dev.ferry.testkit.KernelTest;
import java.io.IOException;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The legacy iptables backend on the real kernel (this kernel has ip_tables/iptable_nat built in):
 * Ferry's rules written with iptables-legacy-restore carry traffic, stay out of the nft backend,
 * follow a partial sync and are removed by cleanup; and the detector follows kubelet's canary chain
 * into whichever backend holds it.
 */
@KernelTest(value = "legacy iptables backend tests", tools = {"ip", "iptables-legacy-restore", "iptables-legacy-save", "iptables-nft-save", "socat", "conntrack"})
class IptablesLegacyBackendTest {
    static final NodeInfo NODE = new NodeInfo("node-a", "");
    static final RenderOptions OPTS = RenderOptions.defaults(false).withClusterCidrs(List.of(Cidr.parse("10.244.0.0/16")));
    static RoutedNode net;
    static KernelTool nodeTool;

    @BeforeAll
    static void topology() throws IOException {
        net = new RoutedNode();
        nodeTool = net.in(net.node);
        net.tcpEcho(1, 8080);
        net.tcpEcho(2, 8080);
    }

    @AfterAll
    static void teardown() {
        if (net != null) net.close();
    }

    static ServicePort web(int... backends) {
        var s = svc("web").clusterIP("10.96.0.10").port(80);
        for (int b : backends) s.ep(ep(backendIp(b), 8080, "node-a"));
        return s.build();
    }

    static Set<String> seen(int requests, String dst) throws IOException {
        Set<String> out = new HashSet<>();
        for (int i = 0; i < requests; i++) {
            String answer = net.tcp(CLIENT_IP, dst, 80);
            assertFalse(answer.startsWith("ERR"), answer);
            out.add(answer.split(" ")[0]);
        }
        return out;
    }

    @Test
    void rulesWrittenThroughTheLegacyBackendCarryTrafficAndStayOutOfNft() throws Exception {
        IptablesSyncer syncer = IptablesSyncer.ipv4(nodeTool, OPTS, IptablesBackend.LEGACY);
        syncer.sync(EndpointSelector.selectAll(List.of(web(1, 2)), NODE), true);
        assertEquals(Set.of("b1", "b2"), seen(30, "10.96.0.10"));

        String legacyNat = nodeTool.runChecked(List.of("iptables-legacy-save", "-t", "nat"), null).stdout();
        String nftNat = nodeTool.runChecked(List.of("iptables-nft-save", "-t", "nat"), null).stdout();
        assertTrue(legacyNat.contains(":KUBE-SERVICES") && legacyNat.contains("-A PREROUTING") && legacyNat.contains("KUBE-SVC-"),
                legacyNat);
        assertFalse(nftNat.contains("KUBE-"), "the nft backend must not see Ferry's chains:\n" + nftNat);

        syncer.sync(EndpointSelector.selectAll(List.of(web(1)), NODE), false);
        assertEquals(Set.of("b1"), seen(20, "10.96.0.10"), "after the partial sync only b1 is left");

        Cleanup.Report report = Cleanup.run(nodeTool, false);
        assertTrue(report.ok(), report.failed().toString());
        String after = nodeTool.runChecked(List.of("iptables-legacy-save"), null).stdout();
        assertFalse(after.contains("KUBE-"), "cleanup must empty the legacy backend too:\n" + after);
    }

    @Test
    void firstSyncIntoAnEmptyKernelInstallsEachJumpOnceInItsOwnTransaction() throws Exception {
        for (IptablesBackend backend : List.of(IptablesBackend.LEGACY, IptablesBackend.NFT)) {
            String ns = "fijmp" + Integer.toHexString(ThreadLocalRandom.current().nextInt(0x100000, 0xffffff));
            KernelTool host = new KernelTool(List.of(), Duration.ofSeconds(20));
            host.runChecked(List.of("ip", "netns", "add", ns), null);
            try {
                KernelTool in = KernelTool.inNamespace(ns, Duration.ofSeconds(20));
                List<ServicePort> ports = EndpointSelector.selectAll(List.of(web(1, 2)), NODE);
                IptablesSyncer.ipv4(in, OPTS, backend).sync(ports, true);
                assertEquals(JumpRules.ALL.size(), jumpsInBuiltinChains(in, backend), backend + ": after the first sync");
                for (JumpRules.Jump j : JumpRules.ALL) {
                    // -C finds each one: the jumps written inside the restore payload are the rules -C/-I would make
                    List<String> check = new java.util.ArrayList<>(List.of(backend.iptables(false), "-w", "5", "-t", j.table(),
                            "-C", j.from()));
                    check.addAll(j.ruleArgs());
                    assertTrue(in.run(check).ok(), backend + ": missing " + j);
                }
                IptablesSyncer restarted = IptablesSyncer.ipv4(in, OPTS, backend);
                restarted.sync(ports, true);
                restarted.sync(ports, true);
                assertEquals(JumpRules.ALL.size(), jumpsInBuiltinChains(in, backend), backend + ": after a restart and a resync");
            } finally {
                host.run(List.of("ip", "netns", "del", ns));
            }
        }
    }

    static long jumpsInBuiltinChains(KernelTool in, IptablesBackend backend) throws IOException {
        String save = in.runChecked(List.of(backend.save(false)), null).stdout();
        return save.lines().filter(l -> l.matches("-A (PREROUTING|INPUT|FORWARD|OUTPUT|POSTROUTING) .*-j KUBE-.*")).count();
    }

    @Test
    void detectionFollowsKubeletsCanaryIntoEitherBackend() throws Exception {
        String ns = "fidet" + Integer.toHexString(ThreadLocalRandom.current().nextInt(0x100000, 0xffffff));
        KernelTool host = new KernelTool(List.of(), Duration.ofSeconds(20));
        host.runChecked(List.of("ip", "netns", "add", ns), null);
        try {
            KernelTool in = KernelTool.inNamespace(ns, Duration.ofSeconds(20));
            IptablesBackendDetector.Decision empty = IptablesBackendDetector.detect(in);
            assertEquals(IptablesBackend.NFT, empty.backend(), empty.reason());
            String legacyTables = in.runChecked(List.of("iptables-legacy-save"), null).stdout();
            assertFalse(legacyTables.contains("*"), "detection must not create legacy tables:\n" + legacyTables);

            in.runChecked(List.of("iptables-legacy", "-w", "5", "-t", "mangle", "-N", "KUBE-KUBELET-CANARY"), null);
            IptablesBackendDetector.Decision legacy = IptablesBackendDetector.detect(in);
            assertEquals(IptablesBackend.LEGACY, legacy.backend(), legacy.reason());

            // kube-proxy's wrapper checks nft first: a hint there wins over legacy's canary
            in.runChecked(List.of("iptables-nft", "-w", "5", "-t", "mangle", "-N", "KUBE-IPTABLES-HINT"), null);
            IptablesBackendDetector.Decision nft = IptablesBackendDetector.detect(in);
            assertEquals(IptablesBackend.NFT, nft.backend(), nft.reason());
        } finally {
            host.run(List.of("ip", "netns", "del", ns));
        }
    }
}
