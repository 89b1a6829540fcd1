package dev.ferry.lb;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * lc/wlc with several pickers (event loops) opening and closing at once: the bound on how far the
 * lock-free pick can be from the exact least-loaded backend, and that the sorted index is exact
 * again once the updates stop. Every thread does a fixed number of operations; every wait is bounded.
 */
@Tag("unit")
class LeastConnectionsConcurrencyTest {
    private static final int THREADS = 4;
    private static final long TIMEOUT_SECONDS = 60;

    @Test
    void concurrentPickersKeepHeldConnectionsWithinTheThreadCountOfEachOther() throws Exception {
        Backends b = TestBackends.uniform(37);
        ConnectionCounts counts = ConnectionCounts.forBackends(b);
        Scheduler lc = new LeastConnections(b, counts, false);
        runConcurrently(t -> {
            for (int i = 0; i < 20_000; i++) {
                counts.opened(lc.pick(0, 0));
            }
        });
        int[] minMax = LeastConnectionsTest.minMax(counts);
        // Each of the other pickers can have picked the same least-loaded backend before its open
        // reached the index: at most THREADS - 1 extra on top of the single-threaded spread of one.
        assertTrue(minMax[1] - minMax[0] <= THREADS, "min " + minMax[0] + ", max " + minMax[1]);
        assertEquals(THREADS * 20_000, total(counts));
    }

    @Test
    void indexIsExactAfterConcurrentOpensAndCloses() throws Exception {
        Backends b = TestBackends.uniform(50);
        ConnectionCounts counts = ConnectionCounts.forBackends(b);
        Scheduler lc = new LeastConnections(b, counts, false);
        churn(counts, lc);
        assertPicksExactlyTheLeastLoaded(b, counts, lc, false);
    }

    @Test
    void weightedIndexIsExactAfterConcurrentOpensAndCloses() throws Exception {
        Backends b = TestBackends.weighted(1, 2, 3, 5, 5, 10, 1, 4, 7, 2, 2, 6);
        ConnectionCounts counts = ConnectionCounts.forBackends(b);
        Scheduler wlc = new LeastConnections(b, counts, true);
        // An lc scheduler over the same counts keeps its own index; both must stay exact.
        Scheduler lc = new LeastConnections(b, counts, false);
        churn(counts, wlc);
        assertPicksExactlyTheLeastLoaded(b, counts, wlc, true);
        assertPicksExactlyTheLeastLoaded(b, counts, lc, false);
    }

    @Test
    void schedulerBuiltWhileConnectionsOpenAndCloseCatchesUp() throws Exception {
        Backends b = TestBackends.uniform(20);
        ConnectionCounts counts = ConnectionCounts.forBackends(b);
        Scheduler p2c = new PowerOfTwoChoices(b, counts);
        List<Scheduler> built = new ArrayList<>();
        runConcurrently(t -> {
            if (t == 0) {
                for (int i = 0; i < 200; i++) {
                    Scheduler lc = new LeastConnections(b, counts, false);
                    if (i == 199) {
                        built.add(lc);
                    }
                }
                return;
            }
            SplittableRandom random = new SplittableRandom(t);
            List<Integer> held = new ArrayList<>();
            for (int i = 0; i < 20_000; i++) {
                if (held.isEmpty() || random.nextInt(10) < 6) {
                    int picked = p2c.pick(0, 0);
                    counts.opened(picked);
                    held.add(picked);
                } else {
                    counts.closed(held.remove(random.nextInt(held.size())));
                }
            }
        });
        assertPicksExactlyTheLeastLoaded(b, counts, built.get(0), false);
    }

    /** Each thread opens through the scheduler and closes connections it holds, at random. */
    private static void churn(ConnectionCounts counts, Scheduler scheduler) throws Exception {
        runConcurrently(t -> {
            SplittableRandom random = new SplittableRandom(100 + t);
            List<Integer> held = new ArrayList<>();
            for (int i = 0; i < 30_000; i++) {
                if (held.isEmpty() || random.nextInt(10) < 6) {
                    int picked = scheduler.pick(0, 0);
                    counts.opened(picked);
                    held.add(picked);
                } else {
                    counts.closed(held.remove(random.nextInt(held.size())));
                }
            }
        });
        assertTrue(total(counts) > 1000, "the churn should leave load behind: " + total(counts));
    }

    /** Quiescent: every pick is a least-loaded backend, and every least-loaded backend gets picked. */
    private static void assertPicksExactlyTheLeastLoaded(Backends b, ConnectionCounts counts, Scheduler s,
            boolean weighted) {
        double least = Double.MAX_VALUE;
        for (int i = 0; i < b.size(); i++) {
            least = Math.min(least, load(b, counts, i, weighted));
        }
        boolean[] expected = new boolean[b.size()];
        int tied = 0;
        for (int i = 0; i < b.size(); i++) {
            expected[i] = load(b, counts, i, weighted) == least;
            tied += expected[i] ? 1 : 0;
        }
        boolean[] seen = new boolean[b.size()];
        for (int k = 0; k < 2000 * tied; k++) {
            int picked = s.pick(0, 0);
            assertTrue(expected[picked], "picked backend " + picked + " with " + counts.get(picked)
                    + " connections (weight " + b.weight(picked) + "); the least load is " + least);
            seen[picked] = true;
        }
        for (int i = 0; i < b.size(); i++) {
            assertEquals(expected[i], seen[i], "backend " + i + " is least-loaded but never picked");
        }
    }

    private static double load(Backends b, ConnectionCounts counts, int i, boolean weighted) {
        return weighted ? (double) counts.get(i) / b.weight(i) : counts.get(i);
    }

    private static long total(ConnectionCounts counts) {
        long sum = 0;
        for (int i = 0; i < counts.size(); i++) {
            sum += counts.get(i);
        }
        return sum;
    }

    interface Work {
        void run(int thread) throws Exception;
    }

    private static void runConcurrently(Work work) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(THREADS);
        try {
            CyclicBarrier start = new CyclicBarrier(THREADS);
            List<Future<?>> done = new ArrayList<>();
            for (int t = 0; t < THREADS; t++) {
                int thread = t;
                done.add(pool.submit(() -> {
                    start.await(TIMEOUT_SECONDS, TimeUnit.SECONDS);
                    work.run(thread);
                    return null;
                }));
            }
            for (Future<?> f : done) {
                f.get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdownNow();
            assertTrue(pool.awaitTermination(TIMEOUT_SECONDS, TimeUnit.SECONDS), "workers did not stop");
        }
    }
}
