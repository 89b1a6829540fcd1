package dev.ferry.rules;

import static dev.ferry.testkit.ServicePorts.svc;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.model.ServicePort;
import dev.ferry.runner.ManualClock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The loop's decisions, on a {@link ManualClock}: syncs run on the test thread when the loop is
 * asked or when the test moves time past a period, so nothing here sleeps or waits.
 */
@Tag("unit")
class SyncLoopTest {
    private static final Duration PERIOD = Duration.ofSeconds(30);
    private final ManualClock clock = new ManualClock();

    private SyncLoop driven(RuleSyncer syncer) {
        return driven(syncer, PERIOD);
    }

    private SyncLoop driven(RuleSyncer syncer, Duration period) {
        return new SyncLoop("t", syncer, period, new Backoff(Duration.ofMillis(10), Duration.ofMillis(50)), clock);
    }

    @Test
    void failedApplyIsRetriedAsFullSyncAndCounted() throws Exception {
        AtomicInteger calls = new AtomicInteger();
        List<Boolean> fullFlags = new ArrayList<>();
        RuleSyncer flaky = (ports, full) -> {
            fullFlags.add(full);
            if (calls.incrementAndGet() == 2) {
                throw new ApplyException("refused", 3, "-A X", "default/a");
            }
            return new SyncReport(full, 1, 0, 0, List.of());
        };
        ServicePort a = svc("a").clusterIP("10.96.0.1").build();
        try (SyncLoop loop = driven(flaky, Duration.ofHours(1)).start()) {
            assertEquals(1, loop.update(List.of(a)));
            assertEquals(1, loop.generationApplied());
            long g2 = loop.update(List.of(a, svc("b").clusterIP("10.96.0.2").build()));
            assertEquals(1, loop.generationApplied(), "refused: the kernel keeps generation 1");
            assertEquals("refused", loop.lastError());
            clock.advance(Duration.ofMillis(9));
            assertEquals(List.of(true, false), fullFlags, "no retry before the back-off ends");
            clock.advance(Duration.ofMillis(1));
            assertEquals(g2, loop.generationApplied());
            assertEquals(1, loop.counters().failures.get());
            assertEquals(List.of(true, false, true), fullFlags, "first full, then partial (fails), then retried as full");
        }
    }

    @Test
    void aNewerStateDoesNotCutABackOffShort() throws Exception {
        List<String> calls = new ArrayList<>();
        RuleSyncer refusesOnce = (ports, full) -> {
            calls.add((full ? "full " : "partial ") + ports.size());
            if (calls.size() == 2) {
                throw new ApplyException("busy", 0, "", "");
            }
            return new SyncReport(full, 1, 0, 0, List.of());
        };
        ServicePort a = svc("a").clusterIP("10.96.0.1").build();
        ServicePort b = svc("b").clusterIP("10.96.0.2").build();
        try (SyncLoop loop = driven(refusesOnce).start()) {
            loop.update(List.of(a));
            loop.update(List.of(a, b)); // refused: back-off 10 ms
            clock.advance(Duration.ofMillis(5));
            long g3 = loop.update(List.of(b));
            assertEquals(List.of("full 1", "partial 2"), calls, "the newer state waits for the back-off");
            clock.advance(Duration.ofMillis(5));
            assertEquals(List.of("full 1", "partial 2", "full 1"), calls, "the retry applies the newest state, fully");
            assertEquals(g3, loop.generationApplied());
        }
    }

    @Test
    void aRequestedFullSyncRunsAtOnceWithTheCurrentStateNotAtTheSyncPeriod() throws Exception {
        List<Boolean> fullFlags = new ArrayList<>();
        List<List<ServicePort>> states = new ArrayList<>();
        RuleSyncer recording = (ports, full) -> {
            fullFlags.add(full);
            states.add(ports);
            return new SyncReport(full, 1, 0, 0, List.of());
        };
        ServicePort a = svc("a").clusterIP("10.96.0.1").build();
        try (SyncLoop loop = driven(recording, Duration.ofHours(1)).start()) {
            loop.requestFullSync(); // before any state: nothing to sync yet
            assertEquals(List.of(), fullFlags);
            long g1 = loop.update(List.of(a));
            assertEquals(g1, loop.generationApplied());
            assertEquals(List.of(true), fullFlags);
            loop.requestFullSync();
            assertEquals(List.of(true, true), fullFlags, "the requested sync is full and ran without time passing");
            assertEquals(List.of(a), states.get(states.size() - 1), "of the current state");
            assertEquals(g1, loop.generationApplied(), "no new generation: the services did not change");
        }
    }

    /**
     * A syncer that records what the loop asks of it; drift() answers from a queue (null: in sync);
     * {@code duringNextSync} runs inside the next sync (a change offered, or time passing, while it runs).
     */
    private static final class Recording implements RuleSyncer {
        final List<String> calls = new ArrayList<>();
        final List<String> drifts = new ArrayList<>();
        Runnable duringNextSync;

        @Override
        public SyncReport sync(List<ServicePort> ports, boolean full) throws ApplyException {
            calls.add((full ? "full " : "partial ") + ports.size());
            Runnable during = duringNextSync;
            duringNextSync = null;
            if (during != null) {
                during.run();
            }
            return new SyncReport(full, 1, 0, 0, List.of());
        }

        @Override
        public String drift() {
            String d = drifts.isEmpty() ? null : drifts.remove(0);
            calls.add(d == null ? "check ok" : "check " + d);
            return d;
        }
    }

    @Test
    void aPeriodicSyncWithoutDriftChecksTheKernelAndAppliesNothing() throws Exception {
        Recording r = new Recording();
        List<Boolean> reported = new ArrayList<>();
        try (SyncLoop loop = driven(r).onApplied((g, full, nanos) -> reported.add(full)).start()) {
            loop.update(List.of(svc("a").clusterIP("10.96.0.1").build()));
            clock.advance(PERIOD.minusNanos(1));
            assertEquals(List.of("full 1"), r.calls, "nothing before the period");
            clock.advance(Duration.ofNanos(1));
            clock.advance(PERIOD);
            assertEquals(List.of("full 1", "check ok", "check ok"), r.calls, "one full sync, then only checks");
            assertEquals(2, loop.counters().verifiedSyncs.get());
            assertEquals(1, loop.counters().fullSyncs.get());
            assertEquals(0, loop.counters().driftRepairs.get());
            assertEquals(List.of(true, false, false), reported, "each check is reported as a (partial) sync, as kube-proxy's are");
        }
    }

    @Test
    void nothingRunsBeforeTheFirstStateHowEverLongItTakes() throws Exception {
        Recording r = new Recording();
        try (SyncLoop loop = driven(r).start()) {
            clock.advance(PERIOD.multipliedBy(10));
            assertEquals(List.of(), r.calls, "no check of an empty desired state");
            loop.update(List.of());
            assertEquals(List.of("full 0"), r.calls);
        }
    }

    @Test
    void driftFoundByThePeriodicCheckIsRepairedByAFullSync() throws Exception {
        Recording r = new Recording();
        try (SyncLoop loop = driven(r).start()) {
            loop.update(List.of(svc("a").clusterIP("10.96.0.1").build()));
            r.drifts.add("a rule went missing");
            clock.advance(PERIOD);
            assertEquals(List.of("full 1", "check a rule went missing", "full 1"), r.calls);
            assertEquals(1, loop.counters().driftRepairs.get());
            clock.advance(PERIOD.minusNanos(1));
            assertEquals(3, r.calls.size(), "no check before a period after the repair: " + r.calls);
            clock.advance(Duration.ofNanos(1));
            assertEquals("check ok", r.calls.get(3), "the next check comes a period after the repair");
        }
    }

    @Test
    void aChangeOfferedDuringAPeriodicFullSyncIsAppliedRightAfterItWithoutWaitingForTheNextPeriod() throws Exception {
        Recording r = new Recording();
        try (SyncLoop loop = driven(r).start()) {
            ServicePort a = svc("a").clusterIP("10.96.0.1").build();
            loop.update(List.of(a));
            long[] g2 = {0};
            r.drifts.add("drifted");
            clock.advance(PERIOD.minusNanos(1));
            r.duringNextSync = () -> g2[0] = loop.update(List.of(a, svc("b").clusterIP("10.96.0.2").build()));
            clock.advance(Duration.ofNanos(1)); // the clock stops at the period: no further period passes
            assertEquals(g2[0], loop.generationApplied());
            assertEquals(List.of("full 1", "check drifted", "full 1", "partial 2"), r.calls,
                    "the change follows the running sync at once, as a partial sync");
        }
    }

    @Test
    void aChangePendingWhenThePeriodIsDueIsAppliedBeforeTheCheck() throws Exception {
        Recording r = new Recording();
        try (SyncLoop loop = driven(r).start()) {
            ServicePort a = svc("a").clusterIP("10.96.0.1").build();
            ServicePort b = svc("b").clusterIP("10.96.0.2").build();
            loop.update(List.of(a));
            long[] g3 = {0};
            r.duringNextSync = () -> {
                // While the change's sync runs, the period passes and another change comes: both are due when it ends.
                clock.advance(PERIOD);
                g3[0] = loop.update(List.of(a, b, svc("c").clusterIP("10.96.0.3").build()));
            };
            loop.update(List.of(a, b));
            assertEquals(g3[0], loop.generationApplied());
            assertEquals(List.of("full 1", "partial 2", "partial 3", "check ok"), r.calls, "the change first, then the check");
        }
    }

    @Test
    void theHourlyFullSyncRewritesEvenWithoutDrift() throws Exception {
        Recording r = new Recording();
        try (SyncLoop loop = driven(r).start()) {
            loop.update(List.of(svc("a").clusterIP("10.96.0.1").build()));
            clock.advance(SyncLoop.FULL_SYNC_PERIOD);
            int periods = (int) (SyncLoop.FULL_SYNC_PERIOD.toNanos() / PERIOD.toNanos());
            List<String> expected = new ArrayList<>();
            expected.add("full 1");
            expected.addAll(Collections.nCopies(periods - 1, "check ok"));
            expected.add("full 1");
            assertEquals(expected, r.calls, "checks every period, and at the hour a full rewrite instead of a check");
        }
    }

    @Test
    void aRepairTheKernelKeepsRefusingCountsAsConsecutiveFailures() throws Exception {
        List<Long> attempts = new ArrayList<>();
        RuleSyncer refusing = new RuleSyncer() {
            @Override
            public SyncReport sync(List<ServicePort> ports, boolean full) throws ApplyException {
                attempts.add(clock.nanoTime());
                if (attempts.size() > 1) {
                    throw new ApplyException("table busy", 0, "", "");
                }
                return new SyncReport(full, 1, 0, 0, List.of());
            }

            @Override
            public String drift() {
                return "someone flushed the table";
            }
        };
        try (SyncLoop loop = driven(refusing).start()) {
            loop.update(List.of(svc("a").clusterIP("10.96.0.1").build()));
            clock.advance(PERIOD);
            clock.advance(Duration.ofMillis(10 + 20 + 40));
            assertEquals(4, loop.counters().consecutiveFailures.get(), "the repair, then retries after 10, 20 and 40 ms");
            List<Long> gaps = new ArrayList<>();
            for (int i = 2; i < attempts.size(); i++) {
                gaps.add((attempts.get(i) - attempts.get(i - 1)) / 1_000_000);
            }
            assertEquals(List.of(10L, 20L, 40L), gaps, "exponential back-off between the retries");
            clock.advance(Duration.ofSeconds(1));
            assertTrue(loop.counters().consecutiveFailures.get() > 20, "retried every 50 ms (the cap) meanwhile");
            assertEquals(1, loop.counters().driftRepairs.get(), "one drift, then retries of its repair with back-off");
            assertEquals("table busy", loop.lastError());
        }
    }

    @Test
    void onItsOwnThreadAnOfferedStateReachesTheKernel() throws Exception {
        java.util.concurrent.CountDownLatch synced = new java.util.concurrent.CountDownLatch(1);
        List<String> threads = new java.util.concurrent.CopyOnWriteArrayList<>();
        RuleSyncer recording = (ports, full) -> {
            threads.add(Thread.currentThread().getName());
            synced.countDown();
            return new SyncReport(full, 1, 0, 0, List.of());
        };
        try (SyncLoop loop = new SyncLoop("own", recording, PERIOD, new Backoff(Duration.ofMillis(10), Duration.ofMillis(50)))
                .start()) {
            loop.update(List.of(svc("a").clusterIP("10.96.0.1").build()));
            assertTrue(synced.await(10, java.util.concurrent.TimeUnit.SECONDS), "synced within 10 s");
            assertEquals(List.of("ferry-sync-own"), threads);
        }
    }
}
