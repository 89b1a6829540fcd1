package dev.ferry.rules.nft;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.model.ServicePort;
import dev.ferry.rules.DriftChecks;
import dev.ferry.rules.RulesetGeneration;
import dev.ferry.rules.SyncLoop;
import dev.ferry.testkit.KernelTest;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The nftables periodic check against the real kernel, in a namespace of the test's own: a period
 * in which nothing changed applies nothing, and an element deleted behind Ferry's back is restored
 * by the next period's check, without any change to the services.
 */
@KernelTest(value = "nftables drift repair tests", tools = {"ip", "nft"})
class NftDriftRepairTest {
    private static final String ELEMENT = "{ 10.96.7.20 . tcp . 80 . 1 }";


    private static List<ServicePort> services() {
        return List.of(Services.svc("default", "web", "10.96.7.20", 80).ep("10.244.1.10", 8080).ep("10.244.1.11", 8080).build());
    }

    @Test
    void aPeriodWithoutChangesAppliesNothingToTheKernel() throws Exception {
        try (DriftChecks d = new DriftChecks();
             RulesetGeneration gen = RulesetGeneration.open(d.netns);
             SyncLoop loop = d.loop(new NftSyncer(NftRendererGoldenTest.options(), d.tool)).start()) {
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
            assertEquals(0, loop.counters().partialSyncs.get(), loop.counters().toString());
            assertEquals(0, loop.counters().driftRepairs.get(), loop.counters().toString());
        }
    }

    @Test
    void anElementDeletedBehindFerrysBackIsRestoredByTheNextPeriodicCheck() throws Exception {
        try (DriftChecks d = new DriftChecks();
             SyncLoop loop = d.loop(new NftSyncer(NftRendererGoldenTest.options(), d.tool)).start()) {
            long g = loop.update(services());
            DriftChecks.await("the first sync", () -> loop.generationApplied() >= g);
            assertTrue(d.succeeds("nft", "get", "element", "ip", "ferry", "service-endpoints-tcp", ELEMENT));

            d.inNetns("nft", "delete", "element", "ip", "ferry", "service-endpoints-tcp", ELEMENT);
            assertFalse(d.succeeds("nft", "get", "element", "ip", "ferry", "service-endpoints-tcp", ELEMENT));

            d.nextPeriod(loop);
            DriftChecks.await("a drift repair", () -> loop.counters().fullSyncs.get() >= 2);
            assertTrue(d.succeeds("nft", "get", "element", "ip", "ferry", "service-endpoints-tcp", ELEMENT),
                    "the endpoint element is back");
            assertEquals(1, loop.counters().driftRepairs.get(), loop.counters().toString());

            d.nextPeriod(loop);
            DriftChecks.await("the check after the repair", () -> loop.counters().verifiedSyncs.get() >= 1);
            assertEquals(2, loop.counters().fullSyncs.get(), "the repair held: the next period applies nothing");
        }
    }

    @Test
    void aChainFlushedBehindFerrysBackIsRestored() throws Exception {
        try (DriftChecks d = new DriftChecks();
             SyncLoop loop = d.loop(new NftSyncer(NftRendererGoldenTest.options(), d.tool)).start()) {
            long g = loop.update(services());
            DriftChecks.await("the first sync", () -> loop.generationApplied() >= g);
            String before = d.inNetns("nft", "list", "table", "ip", "ferry");
            d.inNetns("nft", "flush", "chain", "ip", "ferry", "nat-prerouting");
            d.nextPeriod(loop);
            DriftChecks.await("a drift repair", () -> loop.counters().fullSyncs.get() >= 2);
            assertEquals(before, d.inNetns("nft", "list", "table", "ip", "ferry"), "the table as Ferry wrote it");
        }
    }
}
