package dev.ferry.rules;

import static dev.ferry.testkit.ServicePorts.svc;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.model.ServicePort;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

@Tag("unit")
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

    /**
     * A syncer that records what the loop asks of it; drift() answers from a queue (null: in sync);
     * the next sync after {@code blockFull} is set blocks until that latch opens.
     */
    private static final class Recording implements RuleSyncer {
        final List<String> calls = new CopyOnWriteArrayList<>();
        final java.util.concurrent.BlockingQueue<String> drifts = new java.util.concurrent.LinkedBlockingQueue<>();
        volatile java.util.concurrent.CountDownLatch blockFull;
        final java.util.concurrent.CountDownLatch inFull = new java.util.concurrent.CountDownLatch(1);

        @Override
        public SyncReport sync(List<ServicePort> ports, boolean full) throws ApplyException {
            calls.add((full ? "full " : "partial ") + ports.size());
            java.util.concurrent.CountDownLatch b = blockFull;
            if (b != null) {
                blockFull = null;
                inFull.countDown();
                try {
                    b.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            return new SyncReport(full, 1, 0, 0, List.of());
        }

        @Override
        public String drift() {
            String d = drifts.poll();
            calls.add(d == null ? "check ok" : "check " + d);
            return d;
        }
    }

    private static final Duration PERIOD = Duration.ofSeconds(30);

    private static SyncLoop driven(RuleSyncer syncer, AtomicLong clock) {
        return new SyncLoop("t", syncer, PERIOD, new Backoff(Duration.ofMillis(10), Duration.ofMillis(50)), clock::get);
    }

    private static void awaitCalls(Recording r, int n) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (r.calls.size() < n) {
            assertTrue(System.nanoTime() < deadline, n + " calls expected within 10 s, got " + r.calls);
            Thread.sleep(2);
        }
    }

    @Test
    void aPeriodicSyncWithoutDriftChecksTheKernelAndAppliesNothing() throws Exception {
        Recording r = new Recording();
        AtomicLong clock = new AtomicLong();
        List<Boolean> reported = new CopyOnWriteArrayList<>();
        try (SyncLoop loop = driven(r, clock).onApplied((g, full, nanos) -> reported.add(full)).start()) {
            long g = loop.update(List.of(svc("a").clusterIP("10.96.0.1").build()));
            awaitGeneration(loop, g);
            clock.addAndGet(PERIOD.toNanos());
            loop.poke();
            awaitCalls(r, 2);
            clock.addAndGet(PERIOD.toNanos());
            loop.poke();
            awaitCalls(r, 3);
            assertEquals(List.of("full 1", "check ok", "check ok"), r.calls, "one full sync, then only checks");
            assertEquals(2, loop.counters().verifiedSyncs.get());
            assertEquals(1, loop.counters().fullSyncs.get());
            assertEquals(0, loop.counters().driftRepairs.get());
            assertEquals(List.of(true, false, false), reported, "each check is reported as a (partial) sync, as kube-proxy's are");
        }
    }

    @Test
    void driftFoundByThePeriodicCheckIsRepairedByAFullSync() throws Exception {
        Recording r = new Recording();
        AtomicLong clock = new AtomicLong();
        try (SyncLoop loop = driven(r, clock).start()) {
            long g = loop.update(List.of(svc("a").clusterIP("10.96.0.1").build()));
            awaitGeneration(loop, g);
            r.drifts.add("a rule went missing");
            clock.addAndGet(PERIOD.toNanos());
            loop.poke();
            awaitCalls(r, 3);
            assertEquals(List.of("full 1", "check a rule went missing", "full 1"), r.calls);
            assertEquals(1, loop.counters().driftRepairs.get());
            clock.addAndGet(PERIOD.toNanos() - 1);
            loop.poke();
            clock.addAndGet(1);
            loop.poke();
            awaitCalls(r, 4);
            assertEquals("check ok", r.calls.get(3), "the next check comes a period after the repair");
        }
    }

    @Test
    void aChangeOfferedDuringAPeriodicFullSyncIsAppliedRightAfterItWithoutWaitingForTheNextPeriod() throws Exception {
        Recording r = new Recording();
        AtomicLong clock = new AtomicLong();
        try (SyncLoop loop = driven(r, clock).start()) {
            ServicePort a = svc("a").clusterIP("10.96.0.1").build();
            long g = loop.update(List.of(a));
            awaitGeneration(loop, g);
            java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
            r.blockFull = release;
            r.drifts.add("drifted");
            clock.addAndGet(PERIOD.toNanos());
            loop.poke();
            assertTrue(r.inFull.await(10, TimeUnit.SECONDS), "the repair sync started");
            long g2 = loop.update(List.of(a, svc("b").clusterIP("10.96.0.2").build()));
            release.countDown();
            awaitGeneration(loop, g2); // the clock does not move: no period has to pass
            assertEquals(List.of("full 1", "check drifted", "full 1", "partial 2"), r.calls,
                    "the change follows the running sync at once, as a partial sync");
        }
    }

    @Test
    void aChangePendingWhenThePeriodIsDueIsAppliedBeforeTheCheck() throws Exception {
        Recording r = new Recording();
        AtomicLong clock = new AtomicLong();
        try (SyncLoop loop = driven(r, clock).start()) {
            ServicePort a = svc("a").clusterIP("10.96.0.1").build();
            ServicePort b = svc("b").clusterIP("10.96.0.2").build();
            awaitGeneration(loop, loop.update(List.of(a)));
            java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
            r.blockFull = release;
            loop.update(List.of(a, b));
            assertTrue(r.inFull.await(10, TimeUnit.SECONDS), "the change's sync started");
            // While it runs, the period passes and another change comes: both are due when it ends.
            clock.addAndGet(PERIOD.toNanos());
            long g3 = loop.update(List.of(a, b, svc("c").clusterIP("10.96.0.3").build()));
            release.countDown();
            awaitGeneration(loop, g3);
            awaitCalls(r, 4);
            assertEquals(List.of("full 1", "partial 2", "partial 3", "check ok"), r.calls, "the change first, then the check");
        }
    }

    @Test
    void theHourlyFullSyncRewritesEvenWithoutDrift() throws Exception {
        Recording r = new Recording();
        AtomicLong clock = new AtomicLong();
        try (SyncLoop loop = driven(r, clock).start()) {
            long g = loop.update(List.of(svc("a").clusterIP("10.96.0.1").build()));
            awaitGeneration(loop, g);
            clock.addAndGet(SyncLoop.FULL_SYNC_PERIOD.toNanos());
            loop.poke();
            awaitCalls(r, 2);
            assertEquals(List.of("full 1", "full 1"), r.calls);
        }
    }

    @Test
    void aRepairTheKernelKeepsRefusingCountsAsConsecutiveFailures() throws Exception {
        AtomicLong clock = new AtomicLong();
        AtomicInteger fulls = new AtomicInteger();
        RuleSyncer refusing = new RuleSyncer() {
            @Override
            public SyncReport sync(List<ServicePort> ports, boolean full) throws ApplyException {
                if (fulls.incrementAndGet() > 1) {
                    throw new ApplyException("table busy", 0, "", "");
                }
                return new SyncReport(full, 1, 0, 0, List.of());
            }

            @Override
            public String drift() {
                return "someone flushed the table";
            }
        };
        try (SyncLoop loop = driven(refusing, clock).start()) {
            long g = loop.update(List.of(svc("a").clusterIP("10.96.0.1").build()));
            awaitGeneration(loop, g);
            long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            while (loop.counters().consecutiveFailures.get() < 3) {
                assertTrue(System.nanoTime() < deadline, "three failed repairs within 10 s: " + loop.counters());
                clock.addAndGet(PERIOD.toNanos());
                loop.poke();
                Thread.sleep(2);
            }
            assertEquals(1, loop.counters().driftRepairs.get(), "one drift, then retries of its repair with back-off");
            assertEquals("table busy", loop.lastError());
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
