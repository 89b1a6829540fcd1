package dev.ferry.rules;

import static dev.ferry.testkit.ServicePorts.svc;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.model.ServicePort;
import dev.ferry.model.ServicePortName;
import dev.ferry.table.ServiceTable;
import dev.ferry.table.TableChange;
import dev.ferry.table.TableMirror;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.NavigableMap;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A sync loop that follows a service table: it reads the table's change feed and hands its syncer the change. */
class SyncLoopFeedTest {
    @TempDir
    Path dir;

    private record Call(boolean full, TableChange change, List<ServicePort> desired) {}

    /** Records each call; throws once when {@code failNext} is set. */
    private static final class FeedSyncer implements RuleSyncer {
        final BlockingQueue<Call> calls = new LinkedBlockingQueue<>();
        final AtomicBoolean failNext = new AtomicBoolean();

        @Override
        public SyncReport sync(List<ServicePort> ports, boolean full) {
            throw new AssertionError("a loop following a table hands over the change, not a list");
        }

        @Override
        public SyncReport sync(NavigableMap<ServicePortName, ServicePort> desired, TableChange change, boolean full)
                throws ApplyException {
            boolean fail = failNext.getAndSet(false); // before the call is seen: the test sets it once it saw the last one
            calls.add(new Call(full, change, List.copyOf(desired.values())));
            if (fail) {
                throw new ApplyException("refused", 1, "x", "");
            }
            return new SyncReport(full, 1, 0, 0, List.of());
        }
    }

    private static Call next(FeedSyncer s) throws InterruptedException {
        Call c = s.calls.poll(10, TimeUnit.SECONDS);
        assertTrue(c != null, "a sync within 10 s");
        return c;
    }

    @Test
    void theLoopHandsItsSyncerExactlyTheServicePortsTheTableChanged() throws Exception {
        ServicePort a = svc("a").clusterIP("10.96.0.1").ep("10.244.0.1", 80).build();
        ServicePort b = svc("b").clusterIP("10.96.0.2").ep("10.244.0.2", 80).build();
        ServicePort c = svc("c").clusterIP("10.96.0.3").ep("10.244.0.3", 80).build();
        FeedSyncer syncer = new FeedSyncer();
        try (ServiceTable table = ServiceTable.create(dir, 16L << 20, 1_000, System::currentTimeMillis);
             SyncLoop loop = new SyncLoop("t", syncer, Duration.ofHours(1),
                     new Backoff(Duration.ofMillis(10), Duration.ofMillis(50))).follow(TableMirror.of(table)).start()) {
            table.replaceAll(List.of(a, b, c));
            loop.offer();
            Call first = next(syncer);
            assertTrue(first.full(), "the first sync rewrites everything");
            assertTrue(first.change().full(), "and has no earlier state to compare with");
            assertEquals(List.of(a, b, c), first.desired());

            ServicePort b2 = svc("b").clusterIP("10.96.0.2").ep("10.244.0.2", 80).ep("10.244.0.22", 80).build();
            table.put(b2);
            loop.offer();
            Call second = next(syncer);
            assertFalse(second.full());
            assertEquals(Set.of(b.name()), second.change().changed());
            assertEquals(Set.of(), second.change().removed());
            assertEquals(List.of(a, b2, c), second.desired());

            table.remove(a.name());
            loop.offer();
            Call third = next(syncer);
            assertEquals(Set.of(a.name()), third.change().removed());
            assertEquals(Set.of(), third.change().changed());
            assertEquals(List.of(b2, c), third.desired());

            // a failed sync: the retry is full, and its change unknown (the syncer may have applied part of it)
            syncer.failNext.set(true);
            table.put(a);
            loop.offer();
            Call failed = next(syncer);
            assertEquals(Set.of(a.name()), failed.change().changed());
            Call retry = next(syncer);
            assertTrue(retry.full());
            assertTrue(retry.change().full());
            assertEquals(List.of(a, b2, c), retry.desired());
        }
    }
}
