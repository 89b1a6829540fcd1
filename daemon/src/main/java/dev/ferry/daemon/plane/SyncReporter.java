package dev.ferry.daemon.plane;

import dev.ferry.daemon.http.ProxierHealth;
import dev.ferry.daemon.http.ProxyMetrics;
import dev.ferry.rules.SyncCounters;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * Reports the data plane's syncs to the metrics and the proxier health as kube-proxy's proxier does
 * after syncProxyRules: a sync is done when the kernel holds the rules or the userspace proxy serves
 * the table, never when only the service table was written (kubeproxy_sync_proxy_rules_duration_seconds
 * is the render and apply, or the proxy update; the last-sync timestamp is set then; health counts the
 * update as applied then). Also holds the callbacks waiting for a generation's rules to be applied,
 * such as the network programming latency of the API changes it carries.
 *
 * <p>Thread-safe: the table writer calls {@link #proxyUpdated}, {@link #offered} and
 * {@link #whenApplied}, the rule loop's thread {@link #ruleApplied}.
 */
final class SyncReporter {
    /** Consecutive failed rule syncs (each retried with back-off) after which health fails. */
    static final int RULE_FAILURES_UNHEALTHY = 3;
    /** Callbacks waiting for a rule sync, at most this many (the oldest are dropped: they only record latencies). */
    static final int MAX_WAITING = 4096;

    private final ProxyMetrics metrics;
    private final ProxierHealth health;
    private final LongSupplier clockMillis;
    /** The rule loop's applied generation; null for the userspace proxy, which follows the table synchronously. */
    private final LongSupplier generationApplied;
    private final ArrayDeque<Map.Entry<Long, Runnable>> waiting = new ArrayDeque<>(); // guarded by itself
    private volatile long offered;
    private boolean proxySynced; // writer thread only

    SyncReporter(ProxyMetrics metrics, ProxierHealth health, LongSupplier clockMillis, LongSupplier generationApplied) {
        this.metrics = metrics;
        this.health = health;
        this.clockMillis = clockMillis;
        this.generationApplied = generationApplied;
    }

    /**
     * The userspace proxy followed the table: {@code tookNanos} when it took in a new generation (the
     * first counts as a full sync), or -1 when it was already in line (no sync, but nothing is pending).
     */
    void proxyUpdated(long tookNanos) {
        if (tookNanos >= 0) {
            metrics.syncDone(tookNanos, !proxySynced, clockMillis.getAsLong());
            proxySynced = true;
        }
        health.updated();
    }

    /** The table's state was handed to the rule loop as {@code generation}. */
    void offered(long generation) {
        offered = generation;
    }

    /** The table did not change since the last offer: if the kernel holds that already, nothing is pending. */
    void unchanged() {
        if (generationApplied != null && generationApplied.getAsLong() >= offered) {
            health.updated();
        }
    }

    /** On the rule loop's thread: the kernel holds {@code generation}, after a sync of {@code nanos}. */
    void ruleApplied(long generation, boolean full, long nanos) {
        metrics.syncDone(nanos, full, clockMillis.getAsLong());
        if (generation >= offered) {
            health.updated();
        }
        List<Runnable> due = new ArrayList<>();
        synchronized (waiting) {
            while (!waiting.isEmpty() && waiting.peekFirst().getKey() <= generation) {
                due.add(waiting.pollFirst().getValue());
            }
        }
        due.forEach(Runnable::run);
    }

    /**
     * Runs {@code r} once the data plane serves what was last offered: at once for the userspace
     * proxy, after the next successful apply that covers it in rule modes.
     */
    void whenApplied(Runnable r) {
        if (generationApplied != null) {
            synchronized (waiting) {
                // The loop publishes its applied generation before it drains under this lock: nothing is stranded.
                if (generationApplied.getAsLong() < offered) {
                    if (waiting.size() == MAX_WAITING) {
                        waiting.pollFirst();
                    }
                    waiting.addLast(Map.entry(offered, r));
                    return;
                }
            }
        }
        r.run();
    }

    /** Callbacks waiting for an apply (for tests and logs). */
    int waiting() {
        synchronized (waiting) {
            return waiting.size();
        }
    }

    /**
     * The health condition of a rule loop: fails once {@value #RULE_FAILURES_UNHEALTHY} syncs in a row
     * were refused (the kernel keeps the previous rules; each retried with back-off), with the last
     * error; holds again after the next success.
     */
    static ProxierHealth.Condition rulesApplied(String mode, SyncCounters counters, Supplier<String> lastError) {
        return () -> {
            long failed = counters.consecutiveFailures.get();
            return failed < RULE_FAILURES_UNHEALTHY ? null : mode + " rules failed to apply " + failed
                    + " times in a row (the kernel keeps the previous rules; retrying with back-off): " + lastError.get();
        };
    }
}
