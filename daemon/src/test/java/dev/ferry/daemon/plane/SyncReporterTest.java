package dev.ferry.daemon.plane;

import static org.junit.jupiter.api.Assertions.*;

import dev.ferry.daemon.http.ProxierHealth;
import dev.ferry.daemon.http.ProxyMetrics;
import dev.ferry.rules.ApplyException;
import dev.ferry.rules.Backoff;
import dev.ferry.rules.RuleSyncer;
import dev.ferry.rules.SyncLoop;
import dev.ferry.rules.SyncReport;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The sync metrics and the proxier health measure the data plane (the kernel apply, the proxy
 * update), not the service table write; the "rules" health condition fails after applies fail in
 * a row and holds again after a success.
 */
@Tag("unit")
class SyncReporterTest {
    static final long T0 = 1_764_408_000_000L;
    final AtomicLong now = new AtomicLong(T0);
    final ProxyMetrics metrics = new ProxyMetrics();
    final ProxierHealth health = new ProxierHealth(Duration.ofSeconds(60), now::get);

    static String scrape(ProxyMetrics m) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        PrometheusTextFormatWriter.create().write(out, m.registry().scrape());
        return out.toString(StandardCharsets.UTF_8);
    }

    /** The value of the sample line starting with {@code series} (name and labels), or NaN when absent. */
    static double sample(ProxyMetrics m, String series) throws IOException {
        Matcher x = Pattern.compile("(?m)^" + Pattern.quote(series) + " (\\S+)$").matcher(scrape(m));
        return x.find() ? Double.parseDouble(x.group(1)) : Double.NaN;
    }

    @Test
    void aRuleSyncIsDoneWhenTheKernelHoldsTheRulesNotWhenTheTableIsWritten() throws Exception {
        AtomicLong applied = new AtomicLong();
        SyncReporter r = new SyncReporter(metrics, health, now::get, applied::get);
        health.queuedUpdate();
        metrics.tableWritten(1_000_000); // the table write alone is not a sync
        r.offered(1);
        AtomicBoolean programmed = new AtomicBoolean();
        r.whenApplied(() -> programmed.set(true));
        assertEquals(0.0, sample(metrics, "kubeproxy_sync_proxy_rules_duration_seconds_count"));
        assertEquals(1.0, sample(metrics, "ferry_service_table_write_duration_seconds_count"));
        assertFalse(programmed.get(), "the network programming latency waits for the kernel");
        now.addAndGet(61_000);
        assertEquals(503, health.check(false).status(), "an update the kernel does not hold goes stale");

        applied.set(1);
        r.ruleApplied(1, true, 250_000_000L);
        assertTrue(programmed.get());
        assertEquals(1.0, sample(metrics, "kubeproxy_sync_proxy_rules_duration_seconds_count"));
        assertEquals(0.25, sample(metrics, "kubeproxy_sync_proxy_rules_duration_seconds_sum"), 1e-9);
        assertEquals(now.get() / 1000.0, sample(metrics, "kubeproxy_sync_proxy_rules_last_timestamp_seconds"), 1e-3);
        assertEquals(200, health.check(false).status(), "applied: nothing pending any more");

        // Offered after the loop applied it: runs at once, nothing waits.
        r.whenApplied(() -> { });
        assertEquals(0, r.waiting());
    }

    @Test
    void anOlderApplyLeavesANewerOfferPending() throws Exception {
        AtomicLong applied = new AtomicLong();
        SyncReporter r = new SyncReporter(metrics, health, now::get, applied::get);
        r.offered(2);
        AtomicInteger ran = new AtomicInteger();
        r.whenApplied(ran::incrementAndGet);
        health.queuedUpdate();
        applied.set(1);
        r.ruleApplied(1, false, 1_000_000L);
        assertEquals(0, ran.get());
        now.addAndGet(61_000);
        assertEquals(503, health.check(false).status(), "generation 2 is not in the kernel yet");
        applied.set(2);
        r.ruleApplied(2, false, 1_000_000L);
        assertEquals(1, ran.get());
        assertEquals(200, health.check(false).status());
    }

    @Test
    void theUserspaceProxyUpdateIsTheSyncAndAnUnchangedTableIsNotCounted() throws Exception {
        SyncReporter r = new SyncReporter(metrics, health, now::get, null);
        r.proxyUpdated(3_000_000L);
        r.proxyUpdated(-1);
        r.proxyUpdated(2_000_000L);
        assertEquals(2.0, sample(metrics, "kubeproxy_sync_proxy_rules_duration_seconds_count"));
        assertEquals(1.0, sample(metrics, "kubeproxy_sync_full_proxy_rules_duration_seconds_count"), "the first is full");
        assertEquals(1.0, sample(metrics, "kubeproxy_sync_partial_proxy_rules_duration_seconds_count"));
        AtomicBoolean ran = new AtomicBoolean();
        r.whenApplied(() -> ran.set(true));
        assertTrue(ran.get(), "the proxy serves the table when the write returns");
    }

    @Test
    void theRulesConditionFailsAfterThreeRefusedAppliesWithTheErrorAndHoldsAfterASuccess() throws Exception {
        AtomicBoolean refuse = new AtomicBoolean(true);
        AtomicInteger calls = new AtomicInteger();
        RuleSyncer syncer = (ports, full) -> {
            calls.incrementAndGet();
            if (refuse.get()) {
                throw new ApplyException("iptables-restore: line 7 failed", 1, "-A KUBE-SERVICES", "default/web");
            }
            return new SyncReport(full, 0, 0, 0, List.of());
        };
        try (SyncLoop loop = new SyncLoop("iptables", syncer, Duration.ofHours(1),
                new Backoff(Duration.ofMillis(5), Duration.ofMillis(20)))) {
            SyncReporter r = new SyncReporter(metrics, health, now::get, loop::generationApplied);
            loop.onApplied(r::ruleApplied);
            health.require("rules", SyncReporter.rulesApplied("iptables", loop.counters(), loop::lastError));
            metrics.ruleSync(loop.counters());
            loop.start();
            r.offered(loop.update(List.of()));
            await("three refused applies", () -> calls.get() >= SyncReporter.RULE_FAILURES_UNHEALTHY);
            await("the condition failing", () -> health.check(true).status() == 503);
            String body = health.check(true).body();
            assertTrue(body.contains("rules: iptables rules failed to apply") && body.contains("line 7 failed"), body);
            assertTrue(sample(metrics, "ferry_rule_sync_failures_total") >= 3);
            assertEquals(0.0, sample(metrics, "kubeproxy_sync_proxy_rules_duration_seconds_count"), "a refused apply is no sync");

            refuse.set(false);
            await("health back once an apply succeeds", () -> health.check(true).status() == 200);
            assertEquals(0, loop.counters().consecutiveFailures.get());
            assertNull(loop.lastError());
            assertTrue(sample(metrics, "kubeproxy_sync_proxy_rules_duration_seconds_count") >= 1);
        }
    }

    @Test
    void driftWhoseRepairTheKernelKeepsRefusingFailsHealthAndACleanCheckCountsAsAPartialSync() throws Exception {
        AtomicBoolean refuse = new AtomicBoolean();
        AtomicBoolean drifted = new AtomicBoolean();
        java.util.concurrent.atomic.AtomicLong clock = new java.util.concurrent.atomic.AtomicLong();
        RuleSyncer syncer = new RuleSyncer() {
            @Override
            public SyncReport sync(List<dev.ferry.model.ServicePort> ports, boolean full) throws ApplyException {
                if (refuse.get()) {
                    throw new ApplyException("nft: table ferry is busy", 0, "", "");
                }
                return new SyncReport(full, 0, 0, 0, List.of());
            }

            @Override
            public String drift() {
                return drifted.get() ? "the nf_tables ruleset changed since Ferry's last apply" : null;
            }
        };
        try (SyncLoop loop = new SyncLoop("nftables", syncer, Duration.ofSeconds(30),
                new Backoff(Duration.ofMillis(5), Duration.ofMillis(20)), clock::get)) {
            SyncReporter r = new SyncReporter(metrics, health, now::get, loop::generationApplied);
            loop.onApplied(r::ruleApplied);
            health.require("rules", SyncReporter.rulesApplied("nftables", loop.counters(), loop::lastError));
            metrics.ruleSync(loop.counters());
            loop.start();
            r.offered(loop.update(List.of()));
            await("the first sync", () -> loop.generationApplied() >= 1);

            clock.addAndGet(Duration.ofSeconds(30).toNanos());
            loop.poke();
            await("a clean periodic check", () -> loop.counters().verifiedSyncs.get() == 1);
            await("counted as a partial sync", () -> {
                try {
                    return sample(metrics, "kubeproxy_sync_partial_proxy_rules_duration_seconds_count") == 1.0;
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            assertEquals(1.0, sample(metrics, "ferry_rule_sync_periodic_checks_total"));

            drifted.set(true);
            refuse.set(true);
            await("three refused repairs", () -> {
                clock.addAndGet(Duration.ofSeconds(30).toNanos());
                loop.poke();
                return loop.counters().consecutiveFailures.get() >= SyncReporter.RULE_FAILURES_UNHEALTHY;
            });
            await("the condition failing", () -> health.check(true).status() == 503);
            assertTrue(health.check(true).body().contains("table ferry is busy"), health.check(true).body());
            assertEquals(1.0, sample(metrics, "ferry_rule_sync_drift_repairs_total"));

            refuse.set(false);
            await("health back once the repair succeeds", () -> {
                clock.addAndGet(Duration.ofSeconds(1).toNanos()); // the retry's back-off passes
                loop.poke();
                return health.check(true).status() == 200;
            });
        }
    }

    @Test
    void twoRefusedAppliesAreStillHealthy() {
        dev.ferry.rules.SyncCounters c = new dev.ferry.rules.SyncCounters();
        ProxierHealth.Condition cond = SyncReporter.rulesApplied("nftables", c, () -> "nft: busy");
        c.consecutiveFailures.set(SyncReporter.RULE_FAILURES_UNHEALTHY - 1);
        assertNull(cond.failure(), "a refused apply retried with back-off is not yet a failure");
        c.consecutiveFailures.set(SyncReporter.RULE_FAILURES_UNHEALTHY);
        assertEquals("nftables rules failed to apply 3 times in a row (the kernel keeps the previous rules; retrying"
                + " with back-off): nft: busy", cond.failure());
    }

    static void await(String what, BooleanSupplier cond) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (!cond.getAsBoolean()) {
            assertTrue(System.nanoTime() < deadline, "not within 10 s: " + what);
            Thread.sleep(5);
        }
    }
}
