package dev.ferry.lb;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

@Tag("unit")
class RoundRobinTest {
    @Test
    void picksBackendsInTurn() {
        Scheduler rr = new RoundRobin(TestBackends.uniform(3));
        int[] picks = new int[7];
        for (int i = 0; i < picks.length; i++) {
            picks[i] = rr.pick(0, 0);
        }
        assertArrayEquals(new int[] {0, 1, 2, 0, 1, 2, 0}, picks);
    }

    @Test
    void ignoresWeightsAsIpvsRrDoes() {
        Scheduler rr = new RoundRobin(TestBackends.weighted(5, 1));
        long[] counts = new long[2];
        for (int i = 0; i < 1000; i++) {
            counts[rr.pick(0, 0)]++;
        }
        assertArrayEquals(new long[] {500, 500}, counts);
    }

    @Test
    void concurrentPickersShareEveryBackendExactlyEvenly() throws Exception {
        int backends = 7;
        int threads = 4;
        int picksPerThread = 7 * 100_000;
        Scheduler rr = new RoundRobin(TestBackends.uniform(backends));
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Future<long[]>> results = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                results.add(pool.submit(() -> {
                    long[] counts = new long[backends];
                    for (int i = 0; i < picksPerThread; i++) {
                        counts[rr.pick(0, 0)]++;
                    }
                    return counts;
                }));
            }
            long[] total = new long[backends];
            for (Future<long[]> f : results) {
                long[] counts = f.get(60, TimeUnit.SECONDS);
                for (int i = 0; i < backends; i++) {
                    total[i] += counts[i];
                }
            }
            // Every counter value went to exactly one picker, so interleaving cannot skew the shares.
            long each = (long) threads * picksPerThread / backends;
            for (int i = 0; i < backends; i++) {
                assertEquals(each, total[i], "backend " + i + " of " + backends + " under " + threads + " threads");
            }
        } finally {
            pool.shutdownNow();
            pool.awaitTermination(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void emptySetPicksNoBackend() {
        assertEquals(Scheduler.NO_BACKEND, new RoundRobin(Backends.EMPTY).pick(0, 0));
    }
}
