package dev.ferry.rules.iptables;

import static dev.ferry.testkit.ServicePorts.svc;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import dev.ferry.model.Cidr;
import dev.ferry.model.ServicePort;
import dev.ferry.rules.DriftChecks;
import dev.ferry.rules.RulesetGeneration;
import dev.ferry.rules.SyncLoop;
import dev.ferry.testkit.KernelTest;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * The iptables (nf_tables backend) periodic check against the real kernel, in a namespace of the
 * test's own: a period in which nothing changed applies nothing, and a rule deleted behind Ferry's
 * back is restored by the next period's check.
 */
@KernelTest(value = "iptables drift repair tests", tools = {"ip", "iptables-nft-restore", "iptables-nft-save", "iptables-nft"})
class IptablesDriftRepairTest {
    private static final RenderOptions OPTS = RenderOptions.defaults(false).withClusterCidrs(List.of(Cidr.parse("10.244.0.0/16")));


    private static List<ServicePort> services() {
        return List.of(svc("web").clusterIP("10.96.7.20").ep("10.244.1.10", 8080).ep("10.244.1.11", 8080).build(),
                svc("db").clusterIP("10.96.7.21").port(5432).ep("10.244.1.12", 5432).build());
    }

    /** Ferry's nat rules as the kernel lists them, without counters. */
    private static String natRules(DriftChecks d) throws Exception {
        return d.inNetns("iptables-nft-save", "-t", "nat").lines().filter(l -> l.contains("KUBE-"))
                .map(l -> l.replaceAll("\\[\\d+:\\d+\\]", "")).collect(Collectors.joining("\n"));
    }

    @Test
    void aPeriodWithoutChangesAppliesNothingToTheKernel() throws Exception {
        try (DriftChecks d = new DriftChecks();
             RulesetGeneration gen = RulesetGeneration.open(d.netns);
             SyncLoop loop = d.loop(IptablesSyncer.ipv4(d.tool, OPTS, IptablesBackend.NFT)).start()) {
            long g = loop.update(services());
            DriftChecks.await("the first sync", () -> loop.generationApplied() >= g);
            long before = gen.read();
            for (int period = 1; period <= 3; period++) {
                d.nextPeriod(loop);
                long want = period;
                DriftChecks.await("periodic check " + period, () -> loop.counters().verifiedSyncs.get() >= want);
            }
            assertEquals(before, gen.read(), "no nf_tables transaction in three periods");
            assertEquals(1, loop.counters().fullSyncs.get(), loop.counters().toString());
            assertEquals(0, loop.counters().driftRepairs.get(), loop.counters().toString());
        }
    }

    @Test
    void aRuleDeletedBehindFerrysBackIsRestoredByTheNextPeriodicCheck() throws Exception {
        try (DriftChecks d = new DriftChecks();
             SyncLoop loop = d.loop(IptablesSyncer.ipv4(d.tool, OPTS, IptablesBackend.NFT)).start()) {
            long g = loop.update(services());
            DriftChecks.await("the first sync", () -> loop.generationApplied() >= g);
            String written = natRules(d);

            d.inNetns("iptables-nft", "-w", "5", "-t", "nat", "-D", "KUBE-SERVICES", "1");
            assertNotEquals(written, natRules(d), "a rule is gone");

            d.nextPeriod(loop);
            DriftChecks.await("a drift repair", () -> loop.counters().fullSyncs.get() >= 2);
            assertEquals(written, natRules(d), "the rules as Ferry wrote them");
            assertEquals(1, loop.counters().driftRepairs.get(), loop.counters().toString());

            d.nextPeriod(loop);
            DriftChecks.await("the check after the repair", () -> loop.counters().verifiedSyncs.get() >= 1);
            assertEquals(2, loop.counters().fullSyncs.get(), "the repair held: the next period applies nothing");
        }
    }
}
