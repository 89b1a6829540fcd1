package dev.ferry.daemon;

import static org.junit.jupiter.api.Assertions.*;

import dev.ferry.daemon.http.ProxierHealth;
import dev.ferry.daemon.http.ProxyMetrics;
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
 * from the kernel that the previous run (or this one) put there.
 */
@Tag("unit")
class TableSyncDataPlaneGateTest {
    @TempDir
    Path dir;

    @Test
    void periodicHooksDoNotRunBeforeTheSourceHasWrittenTheTable() throws Exception {
        ServiceTable table = ServiceTable.create(dir, 16L << 20, 1000, System::currentTimeMillis);
        TableSync sync = new TableSync(table, List.of(), new ProxyMetrics(),
                new ProxierHealth(Duration.ofMinutes(1), System::currentTimeMillis));
        try {
            AtomicInteger followed = new AtomicInteger();
            sync.afterEveryWrite(followed::incrementAndGet);
            for (int i = 0; i < 12; i++) {
                sync.heartbeatNow(); // the hooks' periodic run is every 5th heartbeat
            }
            assertEquals(0, followed.get(), "an unwritten table is not handed to the data plane");

            sync.apply(List.of(SamplePorts.web())).get(10, TimeUnit.SECONDS);
            assertEquals(1, followed.get(), "the first write is");
            for (int i = 0; i < 5; i++) {
                sync.heartbeatNow();
            }
            assertEquals(2, followed.get(), "and from then on the periodic run too");
        } finally {
            sync.close();
        }
    }

    @Test
    void aTableRebuiltEmptyIsNotFollowedUntilAFullSyncFillsIt() throws Exception {
        ServiceTable table = ServiceTable.create(dir, 16L << 20, 1000, System::currentTimeMillis);
        TableSync sync = new TableSync(table, List.of(), new ProxyMetrics(),
                new ProxierHealth(Duration.ofMinutes(1), System::currentTimeMillis));
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
            assertTrue(rebuilt.await(10, TimeUnit.SECONDS), "the table is rebuilt");
            for (int i = 0; i < 6; i++) {
                sync.heartbeatNow();
            }
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
