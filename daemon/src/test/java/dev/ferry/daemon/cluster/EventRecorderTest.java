package dev.ferry.daemon.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.api.model.events.v1.Event;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Events reach the API server in events.k8s.io/v1 form, throttled per object, never blocking the caller. */
class EventRecorderTest {
    MockApi api;
    KubernetesClient client;

    @BeforeEach
    void startApi() {
        api = MockApi.start();
        client = api.client();
    }

    @AfterEach
    void stopApi() {
        api.close();
    }

    List<Event> events(String namespace, int atLeast) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        List<Event> items = List.of();
        while (System.nanoTime() < deadline) {
            items = client.events().v1().events().inNamespace(namespace).list().getItems();
            if (items.size() >= atLeast) return items;
            Thread.sleep(50);
        }
        return items;
    }

    @Test
    void aNodeEventGoesToTheDefaultNamespaceWithKubeProxysNodeReference() throws Exception {
        try (EventRecorder r = new EventRecorder(client, "node-a")) {
            r.start();
            assertTrue(r.record(EventRecorder.node("node-a"), EventRecorder.NORMAL, "Starting", "StartFerry", "Starting ferry."));
            List<Event> items = events("default", 1);
            assertEquals(1, items.size());
            Event e = items.get(0);
            assertEquals("Starting", e.getReason());
            assertEquals("StartFerry", e.getAction());
            assertEquals("Normal", e.getType());
            assertEquals("ferry", e.getReportingController());
            assertEquals("ferry-node-a", e.getReportingInstance());
            assertEquals("Node", e.getRegarding().getKind());
            assertEquals("node-a", e.getRegarding().getUid(), "kube-proxy uses the node name as the node's uid");
            assertTrue(e.getMetadata().getName().startsWith("node-a."), e.getMetadata().getName());
            assertTrue(e.getEventTime().getTime().matches("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{6}Z"),
                    e.getEventTime().getTime());
        }
    }

    @Test
    void anObjectEventLivesInTheObjectsNamespaceAndNamesItsApiVersion() throws Exception {
        try (EventRecorder r = new EventRecorder(client, "node-a")) {
            r.start();
            r.record(EventRecorder.object("EndpointSlice", "team", "web-abcde", "uid-7"), EventRecorder.WARNING,
                    "MissingServiceLabel", "Skip", "EndpointSlice team/web-abcde: an EndpointSlice must name its Service");
            Event e = events("team", 1).get(0);
            assertEquals("Warning", e.getType());
            assertEquals("discovery.k8s.io/v1", e.getRegarding().getApiVersion());
            assertEquals("uid-7", e.getRegarding().getUid());
            assertEquals("team", e.getRegarding().getNamespace());
            // The API server holds the event before create() has returned to the recorder's worker,
            // which counts it only then.
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (r.posted() < 1 && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            assertEquals(1, r.posted());
        }
    }

    @Test
    void anObjectGetsABurstThenOneEventPerRefillPeriod() {
        AtomicLong nanos = new AtomicLong();
        try (EventRecorder r = new EventRecorder(client, "node-a", Clock.systemUTC(), nanos::get)) {
            var web = EventRecorder.object("Service", "default", "web", "");
            var other = EventRecorder.object("Service", "default", "other", "");
            for (int i = 0; i < EventRecorder.BURST; i++) {
                assertTrue(r.record(web, EventRecorder.WARNING, "InvalidPort", "Skip", "flap " + i), "event " + i);
            }
            assertFalse(r.record(web, EventRecorder.WARNING, "InvalidPort", "Skip", "one too many"));
            assertTrue(r.record(other, EventRecorder.WARNING, "InvalidPort", "Skip", "another object has its own budget"));
            nanos.addAndGet(EventRecorder.REFILL_NANOS);
            assertTrue(r.record(web, EventRecorder.WARNING, "InvalidPort", "Skip", "after one refill period"));
            assertFalse(r.record(web, EventRecorder.WARNING, "InvalidPort", "Skip", "and only one"));
            assertEquals(2, r.throttled());
        }
    }

    @Test
    void anUnreachableApiServerCountsFailuresAndNeverBlocksTheCaller() throws Exception {
        int closedPort;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            closedPort = s.getLocalPort();
        }
        Config config = new ConfigBuilder().withMasterUrl("http://127.0.0.1:" + closedPort)
                .withRequestRetryBackoffLimit(0).withConnectionTimeout(200).build();
        try (KubernetesClient down = new KubernetesClientBuilder().withConfig(config).build()) {
            EventRecorder r = new EventRecorder(down, "node-a");
            r.start();
            long t0 = System.nanoTime();
            for (int i = 0; i < 1_000; i++) {
                r.record(EventRecorder.object("Service", "default", "svc-" + i, ""), EventRecorder.WARNING,
                        "InvalidPort", "Skip", "x");
            }
            long tookMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
            assertTrue(tookMs < 1_000, "1 000 record() calls took " + tookMs + " ms");
            assertTrue(r.dropped() > 0, "a bounded queue drops what it cannot hold");
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (r.failed() == 0 && System.nanoTime() < deadline) Thread.sleep(20);
            assertTrue(r.failed() > 0, "posts to a closed port fail and are counted");
            long c0 = System.nanoTime();
            r.close();
            assertTrue(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - c0) < 5_000, "close is bounded");
            assertEquals(0, r.posted());
        }
    }

    @Test
    void aLongNoteIsCutToTheApisLimitOnACharacterBoundary() {
        String note = "é".repeat(2_000) + "😀";
        String cut = EventRecorder.truncate(note);
        assertTrue(cut.endsWith("..."), cut);
        int bytes = cut.getBytes(StandardCharsets.UTF_8).length;
        assertTrue(bytes <= 1024 && bytes >= 1020, bytes + " bytes");
        assertEquals("short", EventRecorder.truncate("short"));
    }
}
