package dev.ferry.daemon;

import static org.junit.jupiter.api.Assertions.*;

import dev.ferry.daemon.http.ProxierHealth;
import dev.ferry.daemon.http.ProxyMetrics;
import dev.ferry.runner.ManualClock;
import dev.ferry.table.ServiceTable;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The data plane (rule loop, userspace proxy, health-check ports) follows the table only once it
 * holds a desired state. A restarted daemon whose source has not listed yet, or a table rebuilt
 * empty after damage, must not be handed to the rule loop: it would remove every service's rules
 * from the kernel that the previous run (or this one) put there. The writer runs on a
 * {@link ManualClock}: writes run on the test thread, heartbeats when the test moves time.
 */
@Tag("unit")
class TableSyncDataPlaneGateTest {
    @TempDir
    Path dir;

    private final ManualClock clock = new ManualClock();

    @Test
    void periodicHooksDoNotRunBeforeTheSourceHasWrittenTheTable() throws Exception {
        ServiceTable table = ServiceTable.create(dir, 16L << 20, 1000, System::currentTimeMillis);
        TableSync sync = new TableSync(table, new ProxyMetrics(),
                new ProxierHealth(Duration.ofMinutes(1), System::currentTimeMillis), clock);
        try {
            AtomicInteger followed = new AtomicInteger();
            sync.afterEveryWrite(followed::incrementAndGet);
            clock.advance(Duration.ofSeconds(12)); // twelve heartbeats; the hooks' periodic run is every 5th
            assertEquals(0, followed.get(), "an unwritten table is not handed to the data plane");

            sync.apply(List.of(SamplePorts.web())).get(10, TimeUnit.SECONDS);
            assertEquals(1, followed.get(), "the first write is");
            clock.advance(Duration.ofSeconds(2)); // heartbeats 13 and 14: not yet the 15th
            assertEquals(1, followed.get());
            clock.advance(Duration.ofSeconds(1));
            assertEquals(2, followed.get(), "and from then on the periodic run too");
        } finally {
            sync.close();
        }
    }

    @Test
    void aTableRebuiltEmptyIsNotFollowedUntilAFullSyncFillsIt() throws Exception {
        ServiceTable table = ServiceTable.create(dir, 16L << 20, 1000, System::currentTimeMillis);
        TableSync sync = new TableSync(table, new ProxyMetrics(),
                new ProxierHealth(Duration.ofMinutes(1), System::currentTimeMillis), clock);
        try {
            CountDownLatch rebuilt = new CountDownLatch(1);
            sync.afterRebuild(rebuilt::countDown); // the API source's path: no snapshot to write back
            sync.write(true, t -> t.replaceAll(List.of(SamplePorts.web(), SamplePorts.dns()))).get(10, TimeUnit.SECONDS);
            AtomicInteger followed = new AtomicInteger();
            AtomicInteger portsSeen = new AtomicInteger(-1);
            sync.afterEveryWrite(() -> {
                followed.incrementAndGet();
                portsSeen.set((int) table.reader().servicePortCount());
            });

            try (FileChannel ch = FileChannel.open(table.file(), StandardOpenOption.WRITE)) {
                ch.truncate(0);
            }
            clock.advance(Duration.ofSeconds(1)); // the heartbeat finds the damage
            assertEquals(0, rebuilt.getCount(), "the table is rebuilt");
            clock.advance(Duration.ofSeconds(6));
            sync.write(false, t -> t.replaceAll(List.of(SamplePorts.web()))).get(10, TimeUnit.SECONDS);
            assertEquals(0, followed.get(), "neither the empty nor a partly written table reaches the data plane");

            sync.write(true, t -> t.replaceAll(List.of(SamplePorts.web(), SamplePorts.dns()))).get(10, TimeUnit.SECONDS);
            assertEquals(1, followed.get(), "the full sync does");
            assertEquals(2, portsSeen.get());
        } finally {
            sync.close();
        }
    }
}
