package dev.ferry.conntrack;

import static dev.ferry.conntrack.Tables.backend;
import static dev.ferry.conntrack.Tables.udp;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

@Tag("unit")
class FlowTableTest {
    @TempDir
    Path dir;
    ConntrackState state;
    final Flow out = new Flow();
    final long t0 = 1_700_000_000_000L;

    FlowTable open(ConntrackConfig config) {
        state = ConntrackState.open(dir, config);
        return state.flows();
    }

    @AfterEach
    void close() {
        if (state != null) {
            state.close();
        }
    }

    @Test
    void activeUdpFlowKeepsItsBackend() {
        FlowTable flows = open(ConntrackConfig.DEFAULTS.withMaxFlows(100));
        flows.record(udp(1, 40000), backend(3, 5353), t0);
        for (long t = t0; t < t0 + 120_000; t += 20_000) {
            assertTrue(flows.lookup(udp(1, 40000), t, out), "a flow seen every 20 s must live (idle 30 s) at " + (t - t0));
            assertEquals(backend(3, 5353), out.backend());
        }
        assertEquals(t0, out.createdMillis());
        assertEquals(t0 + 100_000, out.lastSeenMillis());
    }

    @Test
    void udpFlowAgesOutAfterItsIdleTimeout() {
        FlowTable flows = open(ConntrackConfig.DEFAULTS.withMaxFlows(100));
        flows.record(udp(1, 40000), backend(3, 5353), t0);
        assertTrue(flows.lookup(udp(1, 40000), t0 + 29_999, out));
        assertFalse(flows.lookup(udp(1, 40000), t0 + 29_999 + 30_000, out), "30 s idle must end a UDP flow");
        assertEquals(1, flows.expirations());
        assertEquals(0, flows.entries());
    }

    @Test
    void idleTimeoutIsConfigurable() {
        FlowTable flows = open(ConntrackConfig.DEFAULTS.withMaxFlows(100).withUdpIdleTimeout(Duration.ofSeconds(120)));
        flows.record(udp(1, 40000), backend(3, 5353), t0);
        assertTrue(flows.lookup(udp(1, 40000), t0 + 119_000, out));
    }

    @Test
    void expireSomeRemovesIdleFlowsInBoundedSteps() {
        FlowTable flows = open(ConntrackConfig.DEFAULTS.withMaxFlows(20_000));
        for (int i = 0; i < 10_000; i++) {
            flows.record(udp(1 + i / 1000, 10000 + i % 1000), backend(3, 5353), i % 2 == 0 ? t0 : t0 + 25_000);
        }
        long now = t0 + 40_000; // the t0 half is idle 40 s, the other half 15 s
        int budget = 500;
        int calls = 0;
        int removed = 0;
        int largestStep = 0;
        while (calls < 10_000) {
            int r = flows.expireSome(now, budget);
            removed += r;
            largestStep = Math.max(largestStep, r);
            calls++;
            if (removed == 5_000 || (r == 0 && calls > state.flows().map().segments())) {
                break;
            }
        }
        assertEquals(5_000, removed, "every idle flow, and only those, must go");
        assertEquals(5_000, flows.entries());
        assertEquals(5_000, flows.expirations());
        assertTrue(calls > 1, "a budget of " + budget + " must not sweep 10 000 entries in one call");
        assertTrue(largestStep < 5_000, "one call removed " + largestStep);
        assertTrue(flows.lookup(udp(1, 10001), now, out), "a fresh flow must survive the sweep");
    }

    @Test
    void fullTableEvictsTheIdlestEntriesAndCountsWithoutError() {
        FlowTable flows = open(ConntrackConfig.DEFAULTS.withMaxFlows(1_000));
        for (int i = 0; i < 3_000; i++) {
            flows.record(udp(1 + i / 1000, 10000 + i % 1000), backend(3, 5353), t0 + i);
        }
        assertEquals(1_000, flows.entries(), "the table holds at most maxFlows");
        assertEquals(2_000, flows.evictions());
        assertEquals(0, flows.dropped());
        assertTrue(flows.lookup(udp(3, 10999), t0 + 3_000, out), "the newest flow must be there");
        AtomicInteger oldest = new AtomicInteger();
        flows.forEach((k, f) -> {
            if (f.lastSeenMillis() < t0 + 1_000) {
                oldest.incrementAndGet();
            }
        });
        assertTrue(oldest.get() < 100, "eviction must prefer old flows; " + oldest.get() + " of the first 1000 remain");
    }

    @Test
    void fullTablePrefersExpiredEntriesOverLiveOnes() {
        FlowTable flows = open(ConntrackConfig.DEFAULTS.withMaxFlows(100));
        for (int i = 0; i < 100; i++) {
            flows.record(udp(1, 10000 + i), backend(3, 5353), t0);
        }
        flows.record(udp(2, 20000), backend(3, 5353), t0 + 31_000);
        assertEquals(0, flows.evictions(), "idle-expired flows are expirations, not evictions");
        assertTrue(flows.expirations() > 0);
        assertTrue(flows.lookup(udp(2, 20000), t0 + 31_000, out));
    }

    @Test
    void lookupAndRecordAllocateNothingOnceWarm() {
        FlowTable flows = open(ConntrackConfig.DEFAULTS.withMaxFlows(10_000));
        FlowKey k = udp(1, 1);
        Endpoint b = backend(3, 5353);
        for (int i = 0; i < 5_000; i++) {
            flows.record(k.clientPort(1 + i), b, t0);
        }
        var threads = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        long ops = 0;
        long before = 0;
        for (int round = 0; round < 3; round++) { // the first rounds warm up; the last is measured
            before = threads.getCurrentThreadAllocatedBytes();
            ops = 0;
            for (int i = 0; i < 5_000; i++) {
                flows.lookup(k.clientPort(1 + i), t0 + 10, out);
                flows.record(k, b, t0);
                ops += 2;
            }
        }
        long perOp = (threads.getCurrentThreadAllocatedBytes() - before) / ops;
        assertEquals(0, perOp, "a flow lookup or record must not allocate (Chronicle's byte[] access wraps each array)");
    }

    @Test
    void removeForgetsAFlow() {
        FlowTable flows = open(ConntrackConfig.DEFAULTS.withMaxFlows(100));
        flows.record(udp(1, 40000), backend(3, 5353), t0);
        assertTrue(flows.remove(udp(1, 40000)));
        assertFalse(flows.lookup(udp(1, 40000), t0, out));
        assertEquals(0, flows.entries());
    }
}
