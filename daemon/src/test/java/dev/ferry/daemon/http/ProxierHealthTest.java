package dev.ferry.daemon.http;

import static org.junit.jupiter.api.Assertions.*;

import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** kube-proxy's proxier health semantics, on a clock the test moves. */
@Tag("unit")
class ProxierHealthTest {
    static final long T0 = 1_764_408_000_000L; // 2025-11-29 09:20:00 UTC
    final AtomicLong now = new AtomicLong(T0);
    final ProxierHealth health = new ProxierHealth(Duration.ofSeconds(60), now::get);

    @Test
    void healthyWhileStartingUpBeforeAnyUpdate() {
        ProxierHealth.Check c = health.check(true);
        assertEquals(200, c.status());
        assertEquals("{\"lastUpdated\": \"2025-11-29 09:20:00 +0000 UTC\",\"currentTime\": \"2025-11-29 09:20:00 +0000 UTC\", "
                + "\"nodeEligible\": true}", c.body());
    }

    @Test
    void aQueuedUpdateIsHealthyUntilItIsLateThenUnhealthyUntilApplied() {
        health.updated();
        now.addAndGet(5_000);
        health.queuedUpdate();
        now.addAndGet(59_999);
        assertEquals(200, health.check(true).status(), "not late yet");
        assertEquals(200, health.check(false).status());
        health.queuedUpdate(); // a newer update does not reset the clock: the oldest one counts
        now.addAndGet(1);
        ProxierHealth.Check stale = health.check(true);
        assertEquals(503, stale.status());
        assertEquals(503, health.check(false).status(), "/livez also fails when syncs are stale");
        assertTrue(stale.body().startsWith("{\"lastUpdated\": \"2025-11-29 09:20:00 +0000 UTC\",\"currentTime\": \"2025-11-29 09:21:05 +0000 UTC\""),
                "unhealthy answers report when the last sync really happened: " + stale.body());
        now.addAndGet(250);
        health.updated();
        ProxierHealth.Check fresh = health.check(true);
        assertEquals(200, fresh.status());
        assertTrue(fresh.body().startsWith("{\"lastUpdated\": \"2025-11-29 09:21:05.25 +0000 UTC\""), fresh.body());
    }

    @Test
    void aNodeBeingDeletedFailsHealthzButNotLivez() {
        health.syncNode(new NodeBuilder().withNewMetadata().withName("n1").withDeletionTimestamp("2025-11-29T09:20:00Z").endMetadata().build());
        ProxierHealth.Check healthz = health.check(true);
        assertEquals(503, healthz.status());
        assertTrue(healthz.body().endsWith("\"nodeEligible\": false}"), healthz.body());
        ProxierHealth.Check livez = health.check(false);
        assertEquals(200, livez.status());
        assertFalse(livez.body().contains("nodeEligible"), livez.body());
    }

    @Test
    void theAutoscalersDeletionTaintFailsHealthzAndItsRemovalRestoresIt() {
        Node tainted = new NodeBuilder().withNewMetadata().withName("n1").endMetadata().withNewSpec()
                .addNewTaint().withKey("ToBeDeletedByClusterAutoscaler").withEffect("NoSchedule").endTaint().endSpec().build();
        health.syncNode(tainted);
        assertEquals(503, health.check(true).status());
        assertFalse(health.nodeEligible());
        health.syncNode(new NodeBuilder().withNewMetadata().withName("n1").endMetadata().withNewSpec()
                .addNewTaint().withKey("node.kubernetes.io/unschedulable").withEffect("NoSchedule").endTaint().endSpec().build());
        assertEquals(200, health.check(true).status(), "other taints do not matter");
    }

    @Test
    void neverUpdatedPrintsGosZeroTime() {
        health.queuedUpdate();
        now.addAndGet(60_000);
        assertTrue(health.check(false).body().startsWith("{\"lastUpdated\": \"0001-01-01 00:00:00 +0000 UTC\""));
    }

    @Test
    void aFailingDataPlaneConditionFailsEveryProbeWithItsReason() {
        java.util.concurrent.atomic.AtomicReference<String> listeners = new java.util.concurrent.atomic.AtomicReference<>();
        health.require("listeners", listeners::get);
        health.updated();
        assertEquals(200, health.check(true).status());
        assertTrue(health.healthy());

        listeners.set("cannot bind 10.0.0.1:80/TCP (default/web): \"Cannot assign requested address\"");
        ProxierHealth.Check c = health.check(true);
        assertEquals(503, c.status(), "fresh syncs do not hide a data plane that cannot serve");
        assertTrue(c.body().contains("\"failures\": [\"listeners: cannot bind 10.0.0.1:80/TCP (default/web): \\\"Cannot"), c.body());
        assertEquals(503, health.check(false).status(), "/livez too");
        assertFalse(health.healthy(), "service health checks too");

        listeners.set(null);
        assertEquals(200, health.check(true).status(), "recovers when the condition holds again");
    }

    @Test
    void aServingConditionFailsHealthzAndServiceChecksButNotLivez() {
        java.util.concurrent.atomic.AtomicReference<String> starting =
                new java.util.concurrent.atomic.AtomicReference<>("listeners not bound yet");
        health.requireForServing("starting", starting::get);
        ProxierHealth.Check c = health.check(true);
        assertEquals(503, c.status(), "nothing is served yet");
        assertTrue(c.body().contains("\"failures\": [\"starting: listeners not bound yet\"]"), c.body());
        assertFalse(health.healthy(), "service health checks send no traffic to a node that does not serve yet");
        assertEquals(200, health.check(false).status(), "/livez: a process still starting is alive");

        starting.set(null);
        assertEquals(200, health.check(true).status());
        assertTrue(health.healthy());
    }

    @Test
    void aThrowingConditionCountsAsFailing() {
        health.require("table", () -> { throw new IllegalStateException("mapping gone"); });
        ProxierHealth.Check c = health.check(false);
        assertEquals(503, c.status());
        assertTrue(c.body().contains("table: check failed: java.lang.IllegalStateException: mapping gone"), c.body());
    }

    @Test
    void aReportedConditionIsNamedInTheBodyWithoutFailingTheProbes() {
        java.util.concurrent.atomic.AtomicReference<String> why = new java.util.concurrent.atomic.AtomicReference<>();
        health.report("listener budget", why::get);
        assertEquals(200, health.check(true).status());
        assertFalse(health.check(true).body().contains("degraded"), health.check(true).body());
        why.set("2 frontends not listened on");
        ProxierHealth.Check c = health.check(true);
        assertEquals(200, c.status(), "a bound one Service hit must not fail the node");
        assertTrue(c.body().contains("\"degraded\": [\"listener budget: 2 frontends not listened on\"]"), c.body());
        assertTrue(health.healthy());
    }
}
