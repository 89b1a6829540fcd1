package dev.ferry.rules;

import static dev.ferry.rules.TestPorts.svc;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.model.ServicePort;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class SyncLoopTest {

    @Test
    void failedApplyIsRetriedAsFullSyncAndCounted() throws Exception {
        AtomicInteger calls = new AtomicInteger();
        List<Boolean> fullFlags = new CopyOnWriteArrayList<>();
        RuleSyncer flaky = (ports, full) -> {
            fullFlags.add(full);
            if (calls.incrementAndGet() == 2) {
                throw new ApplyException("refused", 3, "-A X", "default/a");
            }
            return new SyncReport(full, 1, 0, 0, List.of());
        };
        ServicePort a = svc("a").clusterIP("10.96.0.1").build();
        try (SyncLoop loop = new SyncLoop("t", flaky, Duration.ofHours(1),
                new Backoff(Duration.ofMillis(10), Duration.ofMillis(50))).start()) {
            loop.update(List.of(a));
            awaitGeneration(loop, 1);
            long g2 = loop.update(List.of(a, svc("b").clusterIP("10.96.0.2").build()));
            awaitGeneration(loop, g2);
            assertEquals(1, loop.counters().failures.get());
            assertEquals(List.of(true, false, true), fullFlags, "first full, then partial (fails), then retried as full");
        }
    }

    @Test
    void aRequestedFullSyncRunsAtOnceWithTheCurrentStateNotAtTheSyncPeriod() throws Exception {
        List<Boolean> fullFlags = new CopyOnWriteArrayList<>();
        List<List<ServicePort>> states = new CopyOnWriteArrayList<>();
        RuleSyncer recording = (ports, full) -> {
            fullFlags.add(full);
            states.add(ports);
            return new SyncReport(full, 1, 0, 0, List.of());
        };
        ServicePort a = svc("a").clusterIP("10.96.0.1").build();
        try (SyncLoop loop = new SyncLoop("t", recording, Duration.ofHours(1),
                new Backoff(Duration.ofMillis(10), Duration.ofMillis(50))).start()) {
            loop.requestFullSync(); // before any state: nothing to sync yet
            long g1 = loop.update(List.of(a));
            awaitGeneration(loop, g1);
            long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            while (fullFlags.size() < 1) {
                assertTrue(System.nanoTime() < deadline, "first sync within 10 s");
                Thread.sleep(5);
            }
            int before = fullFlags.size();
            loop.requestFullSync();
            while (fullFlags.size() < before + 1) {
                assertTrue(System.nanoTime() < deadline, "requested sync within 10 s");
                Thread.sleep(5);
            }
            assertEquals(Boolean.TRUE, fullFlags.get(fullFlags.size() - 1), "the requested sync is full");
            assertEquals(List.of(a), states.get(states.size() - 1), "of the current state");
            assertEquals(g1, loop.generationApplied(), "no new generation: the services did not change");
        }
    }

    private static void awaitGeneration(SyncLoop loop, long gen) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (loop.generationApplied() < gen) {
            assertTrue(System.nanoTime() < deadline, "generation " + gen + " not applied within 10 s");
            Thread.sleep(5);
        }
    }
}
