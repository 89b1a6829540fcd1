package dev.ferry.cli.conformance;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.rules.KernelTool;
import dev.ferry.rules.iptables.IptablesSyncer;
import dev.ferry.rules.nft.NftSyncer;
import dev.ferry.testkit.KernelTest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Every flow of the conformance scenarios sent as a real packet through the kernel: Ferry's own
 * syncers program a {@link KernelNode} for each scenario (iptables mode through iptables-restore,
 * nftables mode through nft), then each flow's first packet is sent from its source's namespace
 * and the outcome read off the wire (the endpoint that answered and the source it saw, a refusal,
 * silence, or the UNTOUCHED server). The scenario sets have no SCTP flows, so nothing is skipped
 * for this kernel; all flows of a mode are run and every disagreement is reported together.
 */
class ConformanceKernelTest {
    @KernelTest(value = "the kernel conformance test's namespaced node", tools = {"ip"})
    @Test
    void iptablesModeGivesKubeProxysOutcomeToRealPackets() throws Exception {
        try (KernelNode n = new KernelNode().start()) {
            KernelTool tool = KernelTool.inNamespace(n.node, Duration.ofSeconds(30));
            List<String> failures = new ArrayList<>();
            int flows = 0;
            for (Scenarios.Scenario s : Scenarios.all()) {
                IptablesSyncer syncer = IptablesSyncer.ipv4(tool, Rendered.iptablesOptions(s.network()));
                syncer.sync(s.services(), true);
                n.flushConntrack();
                for (Scenarios.FlowCase f : s.flows()) {
                    flows++;
                    Outcome got = n.send(f.packet(), f.iptables());
                    if (!got.equals(f.iptables())) {
                        failures.add(s + " / " + f + ": expected " + f.iptables() + ", got " + got);
                    }
                }
            }
            assertTrue(failures.isEmpty(), failures.size() + " of " + flows + " flows differ in iptables mode:\n"
                    + String.join("\n", failures));
        }
    }

    @KernelTest(value = "the kernel conformance test's namespaced node", tools = {"ip"})
    @Test
    void nftablesModeGivesKubeProxysOutcomeToRealPackets() throws Exception {
        try (KernelNode n = new KernelNode().start()) {
            KernelTool tool = KernelTool.inNamespace(n.node, Duration.ofSeconds(30));
            List<String> failures = new ArrayList<>();
            int flows = 0;
            for (Scenarios.Scenario s : Scenarios.all()) {
                NftSyncer syncer = new NftSyncer(Rendered.nftOptions(s.network()), tool);
                syncer.sync(s.services(), true);
                n.flushConntrack();
                for (Scenarios.FlowCase f : s.flows()) {
                    flows++;
                    Outcome got = n.send(f.packet(), f.nftables());
                    if (!got.equals(f.nftables())) {
                        failures.add(s + " / " + f + ": expected " + f.nftables() + ", got " + got);
                    }
                }
            }
            assertTrue(failures.isEmpty(), failures.size() + " of " + flows + " flows differ in nftables mode:\n"
                    + String.join("\n", failures));
        }
    }
}
