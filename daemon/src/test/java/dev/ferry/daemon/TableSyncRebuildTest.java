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
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The API source's path through a table rebuild: TableSync has no snapshot of its own to write
 * back, so it asks the source for a full sync and /healthz stays 503 ("rebuilt empty") until a full
 * write has filled the table again. The writer runs on a {@link ManualClock}: writes run on the
 * test thread, heartbeats when the test moves time.
 */
@Tag("unit")
class TableSyncRebuildTest {
    @TempDir
    Path dir;

    @Test
    void aRebuiltTableAsksForAFullSyncAndStaysUnhealthyUntilOneIsWritten() throws Exception {
        ServiceTable table = ServiceTable.create(dir, 16L << 20, 1000, System::currentTimeMillis);
        ProxierHealth health = new ProxierHealth(Duration.ofMinutes(1), System::currentTimeMillis);
        ManualClock clock = new ManualClock();
        TableSync sync = new TableSync(table, new ProxyMetrics(), health, clock);
        try {
            CountDownLatch fullSyncAsked = new CountDownLatch(1);
            sync.afterRebuild(fullSyncAsked::countDown);
            sync.write(true, t -> t.replaceAll(List.of(SamplePorts.web(), SamplePorts.dns()))).get(10, TimeUnit.SECONDS);
            assertEquals(200, health.check(true).status());

            try (FileChannel ch = FileChannel.open(table.file(), StandardOpenOption.WRITE)) {
                ch.truncate(0);
            }
            clock.advance(Duration.ofMillis(999));
            assertEquals(1, fullSyncAsked.getCount(), "the damage is found by the next heartbeat, not before");
            clock.advance(Duration.ofMillis(1));
            assertEquals(0, fullSyncAsked.getCount(), "the source is asked for a full sync after the rebuild");
            ProxierHealth.Check c = health.check(true);
            assertEquals(503, c.status(), c.body());
            assertTrue(c.body().contains("table: service table " + table.file() + " was truncated to 0 of")
                    && c.body().contains("rebuilt empty, waiting to be written again"), c.body());
            assertEquals(0, table.reader().servicePortCount());

            sync.write(false, t -> t.replaceAll(List.of(SamplePorts.web()))).get(10, TimeUnit.SECONDS);
            assertEquals(503, health.check(true).status(), "a partial write does not make the table whole");
            sync.write(true, t -> t.replaceAll(List.of(SamplePorts.web(), SamplePorts.dns()))).get(10, TimeUnit.SECONDS);
            assertEquals(200, health.check(true).status(), health.check(true).body());
            assertEquals(2, table.reader().servicePortCount());
        } finally {
            sync.close();
        }
    }
}
