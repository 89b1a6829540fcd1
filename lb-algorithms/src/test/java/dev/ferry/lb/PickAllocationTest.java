package dev.ferry.lb;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.lang.management.ManagementFactory;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The pick path allocates nothing, even interpreted (no help from escape analysis): counted by
 * the JVM's per-thread allocation counter, not by timing. JMH with -prof gc measures it compiled.
 */
@Tag("unit")
class PickAllocationTest {
    private static final com.sun.management.ThreadMXBean THREADS =
            (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

    @ParameterizedTest
    @EnumSource(Algorithm.class)
    void picksAllocateNothing(Algorithm algorithm) {
        Backends b = TestBackends.weighted(3, 1, 2, 5, 1, 1, 1, 4, 2, 9);
        Scheduler s = algorithm.newScheduler(b, ConnectionCounts.forBackends(b));
        long sink = picks(s, 1_000) + picks(s, 1_000); // warm: class init, ThreadLocalRandom seeding
        long thread = Thread.currentThread().getId();
        long idle = -THREADS.getThreadAllocatedBytes(thread) + THREADS.getThreadAllocatedBytes(thread);
        long before = THREADS.getThreadAllocatedBytes(thread);
        sink += picks(s, 100_000);
        long allocated = THREADS.getThreadAllocatedBytes(thread) - before - idle;
        assertEquals(0, allocated, algorithm.schedulerName() + ": bytes allocated by 100 000 picks (sink " + (sink & 1) + ")");
    }

    private static long picks(Scheduler s, int count) {
        long sum = 0;
        for (int i = 0; i < count; i++) {
            sum += s.pick(i * 0x9E37_79B9_7F4A_7C15L, i);
        }
        return sum;
    }
}
