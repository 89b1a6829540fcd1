package dev.ferry.runner;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** The runner's schedule, driven by a {@link ManualClock}: no test here waits for real time. */
@Tag("unit")
class BoundedFrequencyRunnerTest {
    private final ManualClock clock = new ManualClock(0);
    /** When each run started, in ms of the manual clock. */
    private final List<Long> runs = new ArrayList<>();

    private BoundedFrequencyRunner runner(Duration min, Duration max, int burst) {
        return new BoundedFrequencyRunner("test", () -> {
            runs.add(TimeUnit.NANOSECONDS.toMillis(clock.nanoTime()));
            return true;
        }, min, max, burst, clock).start();
    }

    private void advanceMillis(long ms) {
        clock.advance(Duration.ofMillis(ms));
    }

    @Test
    void aRequestRunsAtOnceAndTheNextNotBeforeMinInterval() {
        BoundedFrequencyRunner r = runner(Duration.ofSeconds(1), Duration.ofMinutes(1), 1);
        r.run();
        assertEquals(List.of(0L), runs, "the first request runs at once");
        advanceMillis(100);
        r.run();
        advanceMillis(899);
        assertEquals(List.of(0L), runs, "held back until a second after the first run");
        advanceMillis(1);
        assertEquals(List.of(0L, 1000L), runs);
    }

    @Test
    void requestsWhileWaitingCoalesceIntoOneRun() {
        BoundedFrequencyRunner r = runner(Duration.ofSeconds(2), Duration.ofMinutes(1), 1);
        r.run();
        for (int i = 0; i < 50; i++) {
            r.run();
            advanceMillis(10);
        }
        advanceMillis(5_000);
        assertEquals(List.of(0L, 2000L), runs, "fifty requests inside minInterval make one run at its end");
    }

    @Test
    void withoutRequestsItRunsEveryMaxInterval() {
        runner(Duration.ofSeconds(1), Duration.ofSeconds(30), 1);
        advanceMillis(29_999);
        assertEquals(List.of(), runs);
        advanceMillis(1);
        advanceMillis(30_000);
        assertEquals(List.of(30_000L, 60_000L), runs);
    }

    @Test
    void maxIntervalCountsFromTheLastRunWhateverCausedIt() {
        BoundedFrequencyRunner r = runner(Duration.ZERO, Duration.ofSeconds(30), 1);
        advanceMillis(20_000);
        r.run();
        advanceMillis(29_999);
        assertEquals(List.of(20_000L), runs, "the periodic run moved with the requested one");
        advanceMillis(1);
        assertEquals(List.of(20_000L, 50_000L), runs);
    }

    @Test
    void burstRunsGoBackToBackAndTheAllowanceRefillsOnePerMinInterval() {
        BoundedFrequencyRunner r = runner(Duration.ofSeconds(1), Duration.ofMinutes(1), 3);
        for (int i = 0; i < 4; i++) {
            r.run();
        }
        assertEquals(List.of(0L, 0L, 0L), runs, "three at once, the fourth waits");
        advanceMillis(1000);
        assertEquals(List.of(0L, 0L, 0L, 1000L), runs);
        advanceMillis(2000); // two runs' worth refills
        r.run();
        r.run();
        r.run();
        assertEquals(List.of(0L, 0L, 0L, 1000L, 3000L, 3000L), runs, "the refill is two runs, not three");
        advanceMillis(1000);
        assertEquals(List.of(0L, 0L, 0L, 1000L, 3000L, 3000L, 4000L), runs, "the third waited a minInterval");
    }

    @Test
    void aFailedRunIsRetriedWithBackOffThroughRetryAfter() {
        List<Long> attempts = new ArrayList<>();
        AtomicReference<BoundedFrequencyRunner> self = new AtomicReference<>();
        long[] delay = {100};
        BoundedFrequencyRunner r = new BoundedFrequencyRunner("flaky", () -> {
            attempts.add(TimeUnit.NANOSECONDS.toMillis(clock.nanoTime()));
            if (attempts.size() < 4) { // fails three times, doubling the back-off
                self.get().retryAfter(Duration.ofMillis(delay[0]));
                delay[0] *= 2;
            }
            return true;
        }, Duration.ZERO, Duration.ofHours(1), 1, clock);
        self.set(r);
        r.start();
        r.run();
        advanceMillis(10_000);
        assertEquals(List.of(0L, 100L, 300L, 700L), attempts, "retried after 100, 200 and 400 ms, then left alone");
    }

    @Test
    void aRetryNeverBreaksMinIntervalAndTheEarliestPendingRetryCounts() {
        BoundedFrequencyRunner r = runner(Duration.ofSeconds(1), Duration.ofHours(1), 1);
        r.run();
        r.retryAfter(Duration.ofMillis(500));
        advanceMillis(999);
        assertEquals(List.of(0L), runs, "a retry is still bounded by minInterval");
        advanceMillis(1);
        assertEquals(List.of(0L, 1000L), runs);
        r.retryAfter(Duration.ofSeconds(20));
        r.retryAfter(Duration.ofSeconds(5));
        r.retryAfter(Duration.ofSeconds(10));
        advanceMillis(30_000);
        assertEquals(List.of(0L, 1000L, 6000L), runs, "the earliest retry ran; the later ones were satisfied by it");
    }

    @Test
    void aRunThatFoundNothingToDoUsesNoAllowance() {
        boolean[] ready = {false};
        AtomicReference<BoundedFrequencyRunner> self = new AtomicReference<>();
        BoundedFrequencyRunner r = new BoundedFrequencyRunner("gated", () -> {
            if (!ready[0]) {
                self.get().retryAfter(Duration.ofMillis(20)); // look again soon
                return false;
            }
            runs.add(TimeUnit.NANOSECONDS.toMillis(clock.nanoTime()));
            return true;
        }, Duration.ofSeconds(1), Duration.ofMinutes(1), 1, clock);
        self.set(r);
        r.start();
        r.run();
        advanceMillis(500); // 25 looks that did nothing
        ready[0] = true;
        advanceMillis(20);
        assertEquals(List.of(520L), runs, "the first real run is not held back by the idle looks before it");
    }

    @Test
    void aRequestDuringARunIsServedAfterItNotInsideIt() {
        List<String> events = new ArrayList<>();
        AtomicReference<BoundedFrequencyRunner> self = new AtomicReference<>();
        BoundedFrequencyRunner r = new BoundedFrequencyRunner("nested", () -> {
            events.add("start " + events.size());
            if (events.size() == 1) {
                self.get().run();
            }
            events.add("end");
            return true;
        }, Duration.ZERO, Duration.ofMinutes(1), 1, clock);
        self.set(r);
        r.start();
        r.run();
        assertEquals(List.of("start 0", "end", "start 2", "end"), events);
    }

    @Test
    void closeStopsEveryFutureRunAndLeavesNoTimer() {
        BoundedFrequencyRunner r = runner(Duration.ofSeconds(1), Duration.ofSeconds(30), 1);
        r.run();
        r.run(); // waiting for its allowance
        r.close();
        r.run();
        r.retryAfter(Duration.ZERO);
        advanceMillis(120_000);
        assertEquals(List.of(0L), runs);
        assertEquals(0, clock.pendingTimers(), "nothing left scheduled");
    }

    @Test
    void aRunThatThrowsIsLoggedAndTheScheduleGoesOn() {
        int[] calls = {0};
        BoundedFrequencyRunner r = new BoundedFrequencyRunner("throws", () -> {
            if (calls[0]++ == 0) {
                throw new IllegalStateException("boom");
            }
            return true;
        }, Duration.ZERO, Duration.ofSeconds(10), 1, clock).start();
        r.run();
        advanceMillis(10_000);
        assertEquals(2, calls[0], "the periodic run still came");
    }

    @Test
    void invalidIntervalsAreRefusedWithTheirValues() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> runner(Duration.ofSeconds(2), Duration.ofSeconds(1), 1));
        assertTrue(e.getMessage().contains("PT2S") && e.getMessage().contains("PT1S"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> runner(Duration.ZERO, Duration.ofSeconds(1), 0));
    }

    @Test
    void onAThreadClockRunsHappenOnItsThreadAndCloseWaitsForTheRunningOne() throws Exception {
        try (ThreadClock real = new ThreadClock("ferry-test-runner")) {
            CountDownLatch entered = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            AtomicReference<String> thread = new AtomicReference<>();
            boolean[] finished = {false};
            BoundedFrequencyRunner r = new BoundedFrequencyRunner("real", () -> {
                thread.set(Thread.currentThread().getName());
                entered.countDown();
                try {
                    release.await(10, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                synchronized (finished) {
                    finished[0] = true;
                }
                return true;
            }, Duration.ZERO, Duration.ofHours(1), 1, real).start();
            r.run();
            assertTrue(entered.await(10, TimeUnit.SECONDS), "the run started");
            assertEquals("ferry-test-runner", thread.get());
            List<Boolean> finishedWhenClosed = new java.util.concurrent.CopyOnWriteArrayList<>();
            Thread closer = new Thread(() -> {
                r.close();
                synchronized (finished) {
                    finishedWhenClosed.add(finished[0]);
                }
            });
            closer.start();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (closer.getState() != Thread.State.TIMED_WAITING && System.nanoTime() < deadline) {
                Thread.onSpinWait(); // until close() waits for the run
            }
            assertEquals(Thread.State.TIMED_WAITING, closer.getState(), "close() waits while the run is in progress");
            release.countDown();
            closer.join(10_000);
            assertEquals(List.of(true), finishedWhenClosed, "close returned only after the run in progress ended");
        }
    }
}
