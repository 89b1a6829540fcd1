package dev.ferry.watch;

import static dev.ferry.watch.ApiObjects.clusterIp;
import static dev.ferry.watch.ApiObjects.slice;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.model.Protocol;
import dev.ferry.model.ServicePort;
import dev.ferry.model.ServicePortName;
import dev.ferry.runner.ManualClock;
import dev.ferry.select.NodeInfo;
import dev.ferry.table.ServiceTable;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The change tracker's schedule and diffing, against an in-memory cache and a real ServiceTable. The
 * tracker runs on a {@link ManualClock}: it syncs on the test thread when told of a change or when
 * the test moves time, so every assertion holds as soon as the call returns and nothing sleeps.
 */
@Tag("unit")
class ChangeTrackerTest {
    @TempDir
    Path dir;

    private final FakeCache cache = new FakeCache();
    private final ManualClock clock = new ManualClock();
    private ServiceTable table;
    private RecordingSink sink;
    private ChangeTracker tracker;

    /** Services and slices held in maps; "synced" is switched by the test. */
    static final class FakeCache implements ClusterCache {
        final Map<String, Service> services = new ConcurrentHashMap<>();
        final Map<String, List<EndpointSlice>> slices = new ConcurrentHashMap<>();
        volatile boolean synced = true;

        @Override
        public boolean hasSynced() {
            return synced;
        }

        @Override
        public Service service(String key) {
            return services.get(key);
        }

        @Override
        public List<EndpointSlice> slicesOf(String serviceKey) {
            return slices.getOrDefault(serviceKey, List.of());
        }

        @Override
        public Collection<String> serviceKeys() {
            return List.copyOf(services.keySet());
        }

        void put(String name, String ip, String... endpoints) {
            services.put("default/" + name, clusterIp("default", name, ip));
            slices.put("default/" + name, List.of(slice("default", name, name + "-1", endpoints)));
        }
    }

    @BeforeEach
    void setUp() throws Exception {
        table = ServiceTable.create(dir);
        sink = new RecordingSink(table);
    }

    @AfterEach
    void tearDown() throws Exception {
        if (tracker != null) {
            tracker.close();
        }
        table.close();
    }

    private void start(SyncPeriods periods) throws InterruptedException {
        tracker = new ChangeTracker(cache, sink, periods, new NodeInfo("node-a", ""), clock);
        tracker.start();
        assertTrue(tracker.awaitFirstSync(Duration.ZERO), "the first sync ran at start");
    }

    private static ServicePortName http(String name) {
        return new ServicePortName("default", name, "http", Protocol.TCP);
    }

    @Test
    void firstSyncWaitsForTheCacheAndIsFull() throws Exception {
        cache.synced = false;
        cache.put("web", "10.96.0.1", "10.1.0.1");
        tracker = new ChangeTracker(cache, sink, new SyncPeriods(Duration.ZERO, Duration.ofSeconds(30)),
                new NodeInfo("node-a", ""), clock);
        tracker.start();
        tracker.serviceChanged("default/web");
        clock.advance(Duration.ofMinutes(2));
        assertFalse(tracker.awaitFirstSync(Duration.ZERO), "no sync before the cache has synced");
        assertTrue(sink.updates.isEmpty(), "nothing handed to the sink: " + sink.updates);

        cache.synced = true;
        clock.advance(Duration.ofMillis(20));
        assertTrue(tracker.awaitFirstSync(Duration.ZERO), "synced within 20 ms of the cache");
        TableUpdate first = sink.updates.get(0);
        assertTrue(first.full(), "the first update is full");
        assertEquals(1, first.ports().get(0).endpoints().size(), "with its endpoints, not an empty service");
    }

    @Test
    void onlyChangedServicePortsReachTheSink() throws Exception {
        cache.put("a", "10.96.0.1", "10.1.0.1");
        cache.put("b", "10.96.0.2", "10.1.0.2");
        cache.put("c", "10.96.0.3", "10.1.0.3");
        start(new SyncPeriods(Duration.ZERO, Duration.ofMinutes(10)));
        int before = sink.updates.size();

        cache.put("b", "10.96.0.2", "10.1.0.2", "10.1.0.22");
        tracker.serviceChanged("default/a"); // a relist touches it, but nothing changed
        tracker.serviceChanged("default/b");
        assertEquals(2, sink.contents().get(http("b")).endpoints().size(), "b updated");
        List<TableUpdate> after = sink.updates.subList(before, sink.updates.size());
        for (TableUpdate u : after) {
            assertFalse(u.full(), "no full sync was due");
            for (ServicePort sp : u.ports()) {
                assertEquals(http("b"), sp.name(), "only b was handed over: " + u);
            }
            assertTrue(u.removed().isEmpty());
        }
    }

    @Test
    void tableWriteCountersCountWhatTheSinkAddedUpdatedAndRemoved() throws Exception {
        cache.put("a", "10.96.0.1", "10.1.0.1");
        cache.put("b", "10.96.0.2", "10.1.0.2");
        start(new SyncPeriods(Duration.ZERO, Duration.ofMinutes(10)));
        SyncStats s = tracker.stats();
        assertEquals(List.of(2L, 0L, 0L), List.of(s.portsAdded(), s.portsUpdated(), s.portsRemoved()));

        cache.put("b", "10.96.0.2", "10.1.0.2", "10.1.0.22");
        tracker.serviceChanged("default/a"); // touched, unchanged: not a write
        tracker.serviceChanged("default/b");
        assertEquals(1, s.portsUpdated(), "b updated");
        cache.services.remove("default/a");
        cache.slices.remove("default/a");
        tracker.serviceChanged("default/a");
        assertEquals(1, s.portsRemoved(), "a removed");
        assertEquals(List.of(2L, 1L, 1L), List.of(s.portsAdded(), s.portsUpdated(), s.portsRemoved()));
    }

    @Test
    void eventsThatChangeNothingWriteNothing() throws Exception {
        cache.put("a", "10.96.0.1", "10.1.0.1");
        start(new SyncPeriods(Duration.ZERO, Duration.ofMinutes(10)));
        int updates = sink.updates.size();
        long syncs = tracker.stats().syncs();
        for (int i = 0; i < 5; i++) {
            tracker.serviceChanged("default/a");
            assertEquals(syncs + 1, tracker.stats().syncs(), "a sync for each event");
            syncs = tracker.stats().syncs();
        }
        assertEquals(updates, sink.updates.size(), "a relist of unchanged objects reaches no sink");
    }

    @Test
    void burstOfChangesIsCoalescedUnderMinSyncPeriod() throws Exception {
        for (int i = 0; i < 50; i++) {
            cache.put("s" + i, "10.96.1." + (i + 1), "10.2.0." + (i + 1));
        }
        start(new SyncPeriods(Duration.ofSeconds(2), Duration.ofMinutes(10)));
        int before = sink.updates.size();
        long syncsBefore = tracker.stats().syncs();
        for (int i = 0; i < 50; i++) {
            cache.put("s" + i, "10.96.1." + (i + 1), "10.2.0." + (i + 1), "10.3.0." + (i + 1));
            tracker.serviceChanged("default/s" + i);
            clock.advance(Duration.ofMillis(10));
        }
        assertEquals(syncsBefore, tracker.stats().syncs(), "held back: the first sync was less than 2 s ago");
        clock.advance(Duration.ofMillis(1499));
        assertEquals(syncsBefore, tracker.stats().syncs(), "not before minSyncPeriod");
        clock.advance(Duration.ofMillis(1));
        assertTrue(sink.contents().values().stream().allMatch(sp -> sp.endpoints().size() == 2), "all 50 updated");
        assertEquals(syncsBefore + 1, tracker.stats().syncs(), "one sync for the burst (minSyncPeriod 2 s)");
        assertEquals(before + 1, sink.updates.size());
        assertEquals(50, sink.updates.get(before).ports().size());
    }

    @Test
    void deletedServiceIsRemovedAndOthersStay() throws Exception {
        cache.put("a", "10.96.0.1", "10.1.0.1");
        cache.put("b", "10.96.0.2", "10.1.0.2");
        start(new SyncPeriods(Duration.ZERO, Duration.ofMinutes(10)));
        cache.services.remove("default/a");
        cache.slices.remove("default/a");
        tracker.serviceChanged("default/a");
        assertFalse(sink.contents().containsKey(http("a")), "a removed");
        assertEquals(List.of(http("a")), sink.removals);
        assertEquals(1, tracker.stats().servicePorts());
    }

    @Test
    void theSyncPeriodNeitherConvertsNorRewritesEveryServiceAgain() throws Exception {
        cache.put("a", "10.96.0.1", "10.1.0.1");
        cache.put("b", "10.96.0.2", "10.1.0.2");
        start(new SyncPeriods(Duration.ZERO, Duration.ofMillis(100)));
        int before = sink.updates.size();
        long idles = sink.idles.get();
        clock.advance(Duration.ofSeconds(2)); // twenty sync periods
        assertEquals(idles + 2, sink.idles.get(), "the sink's idle work ran once a second meanwhile");
        assertEquals(1, tracker.stats().fullSyncs(), "only the first sync was full");
        assertEquals(before, sink.updates.size(), "nothing handed to the table: " + sink.updates.subList(before, sink.updates.size()));
    }

    @Test
    void aServiceTheTableRefusedIsRetriedEverySyncPeriodUntilItsConflictIsGone() throws Exception {
        cache.put("a", "10.96.0.1", "10.1.0.1");
        cache.put("b", "10.96.0.1", "10.1.0.2"); // the same ClusterIP and port: the table stores one of them
        start(new SyncPeriods(Duration.ZERO, Duration.ofMillis(100)));
        boolean aWon = sink.contents().containsKey(http("a"));
        String winner = aWon ? "a" : "b";
        String loser = aWon ? "b" : "a";
        assertFalse(sink.contents().containsKey(http(loser)), "refused: " + sink.contents().keySet());
        int before = sink.updates.size();
        clock.advance(Duration.ofMillis(99));
        assertEquals(before, sink.updates.size(), "no retry before the sync period");
        clock.advance(Duration.ofMillis(1));
        clock.advance(Duration.ofMillis(100));
        assertEquals(before + 2, sink.updates.size(), "the refused service was retried every sync period");
        for (TableUpdate u : sink.updates.subList(before, sink.updates.size())) {
            assertFalse(u.full(), "a retry is partial");
            assertEquals(List.of(http(loser)), u.ports().stream().map(ServicePort::name).toList(), "only the refused one");
        }

        cache.services.remove("default/" + winner);
        cache.slices.remove("default/" + winner);
        tracker.serviceChanged("default/" + winner);
        clock.advance(Duration.ofMillis(100));
        assertTrue(sink.contents().containsKey(http(loser)), loser + " stored at the retry after " + winner + " is gone");
        // The table itself writes the loser again when the winner goes (FrontendClaims); the tracker,
        // which does not know that, may hand it over once more (the table finds it unchanged), then stops.
        int settled = sink.updates.size();
        clock.advance(Duration.ofSeconds(2));
        int after = sink.updates.size();
        assertTrue(after - settled <= 1, "at most one redundant retry: " + sink.updates.subList(settled, after));
        clock.advance(Duration.ofSeconds(2));
        assertEquals(after, sink.updates.size(), "no more retries once stored");
    }

    @Test
    void failedApplyIsRetriedAsFullSync() throws Exception {
        cache.put("a", "10.96.0.1", "10.1.0.1");
        start(new SyncPeriods(Duration.ZERO, Duration.ofMinutes(10)));
        sink.failNext = new IllegalStateException("disk on fire");
        cache.put("a", "10.96.0.1", "10.1.0.1", "10.1.0.2");
        tracker.serviceChanged("default/a");
        assertEquals(1, tracker.stats().failedSyncs());
        assertTrue(tracker.stats().oldestPendingChangeMillis() > 0, "the change is still pending");
        clock.advance(Duration.ofMillis(999));
        tracker.serviceChanged("default/a"); // another event does not cut the back-off short
        assertEquals(1, sink.contents().get(http("a")).endpoints().size(), "no retry before 1 s");
        clock.advance(Duration.ofMillis(1));
        assertEquals(2, sink.contents().get(http("a")).endpoints().size(), "retry applied");
        assertTrue(sink.updates.get(sink.updates.size() - 1).full(), "the retry is a full sync");
        assertEquals(0, tracker.stats().oldestPendingChangeMillis(), "nothing pending after the retry");
    }

    @Test
    void networkProgrammingLatencyIsMeasuredFromTheTriggerTimeButNotForChangesBeforeStart() throws Exception {
        cache.put("a", "10.96.0.1", "10.1.0.1");
        long beforeStart = clock.currentTimeMillis() - 60_000;
        start(new SyncPeriods(Duration.ZERO, Duration.ofMinutes(10)));
        cache.put("a", "10.96.0.1", "10.1.0.1", "10.1.0.2");
        tracker.serviceChanged("default/a", beforeStart);
        assertEquals(2, sink.contents().get(http("a")).endpoints().size(), "stale trigger synced");
        assertEquals(0, tracker.stats().networkProgrammingMillis().getTotalCount(), "a change from before start is not timed");

        clock.advance(Duration.ofMillis(5)); // the trigger must be later than the tracker's creation
        long trigger = clock.currentTimeMillis();
        cache.put("a", "10.96.0.1", "10.1.0.1", "10.1.0.2", "10.1.0.3");
        clock.advance(Duration.ofMillis(7)); // the API event reaches the tracker 7 ms after the change
        tracker.serviceChanged("default/a", trigger);
        assertEquals(1, tracker.stats().networkProgrammingMillis().getTotalCount(), "latency recorded");
        assertEquals(trigger + 7, tracker.stats().lastSyncMillis());
        assertEquals(7, tracker.stats().networkProgrammingMillis().getMaxValue(), "measured up to the sync that wrote it");
    }

    @Test
    void zoneChangeReselectsEveryService() throws Exception {
        cache.services.put("default/near", ApiObjects.service("""
                apiVersion: v1
                kind: Service
                metadata: {name: near, namespace: default}
                spec:
                  clusterIP: 10.96.0.9
                  trafficDistribution: PreferClose
                  ports: [{name: http, port: 80, protocol: TCP}]
                """));
        cache.slices.put("default/near", List.of(ApiObjects.slice("""
                apiVersion: discovery.k8s.io/v1
                kind: EndpointSlice
                metadata: {name: near-1, namespace: default, labels: {kubernetes.io/service-name: near}}
                addressType: IPv4
                ports: [{name: http, port: 8080, protocol: TCP}]
                endpoints:
                - addresses: [10.4.0.1]
                  hints: {forZones: [{name: z1}]}
                - addresses: [10.4.0.2]
                  hints: {forZones: [{name: z2}]}
                """)));
        start(new SyncPeriods(Duration.ZERO, Duration.ofMinutes(10)));
        assertEquals(List.of(true, true), clusterFlags(), "no zone yet: every endpoint");
        tracker.nodeChanged(new NodeInfo("node-a", "z2"));
        assertEquals(List.of(false, true), clusterFlags(), "z2 only");
    }

    private List<Boolean> clusterFlags() {
        ServicePort sp = sink.contents().get(new ServicePortName("default", "near", "http", Protocol.TCP));
        return sp.endpoints().stream().map(e -> e.clusterTraffic()).toList();
    }
}
