package dev.ferry.daemon.http;

import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.Taint;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

/**
 * kube-proxy's proxier health (pkg/proxy/healthcheck/proxier_health.go), which /healthz and /livez
 * report: healthy while no update has been waiting longer than the health timeout (kube-proxy uses
 * twice the syncPeriod) — at start-up, when fully synced, or while a queued update is not late yet.
 * /healthz additionally requires the node to be eligible (not being deleted, not tainted
 * {@value #TO_BE_DELETED_TAINT}); /livez ignores that.
 *
 * <p>Beyond kube-proxy's freshness, the data plane registers {@link Condition}s ({@link #require}):
 * what the kernel and the proxy actually serve (rules applied, listeners bound, addresses present,
 * table readable). A failing condition makes /healthz, /livez and the service health checks fail,
 * with its reason in the body, so health never says 200 while traffic is black-holed.
 *
 * <p>Thread-safe: the sync loop calls {@link #queuedUpdate()} and {@link #updated()}, the Node
 * watcher {@link #syncNode}, HTTP threads {@link #check}.
 */
public final class ProxierHealth {
    /** The taint the cluster autoscaler sets before deleting a node. */
    public static final String TO_BE_DELETED_TAINT = "ToBeDeletedByClusterAutoscaler";

    private static final long NONE = Long.MIN_VALUE;
    private static final DateTimeFormatter GO_TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss");

    private final LongSupplier clockMillis;
    private final long healthTimeoutMillis;
    private final AtomicLong lastUpdated = new AtomicLong(NONE);
    private final AtomicLong oldestPendingQueued = new AtomicLong(NONE);
    private final AtomicBoolean nodeEligible = new AtomicBoolean(true);
    private volatile LongSupplier externalPending = () -> 0;
    private final List<NamedCondition> conditions = new CopyOnWriteArrayList<>();
    private final List<NamedCondition> serving = new CopyOnWriteArrayList<>();
    private final List<NamedCondition> degradations = new CopyOnWriteArrayList<>();

    /**
     * Something the data plane must hold to serve what the table says. Called on HTTP threads on
     * every probe: must be cheap, must not block, must not throw.
     */
    @FunctionalInterface
    public interface Condition {
        /** Null while the condition holds, else a short reason (what fails, for which service or address). */
        String failure();
    }

    private record NamedCondition(String name, Condition condition) {}

    public ProxierHealth(Duration healthTimeout, LongSupplier clockMillis) {
        this.healthTimeoutMillis = healthTimeout.toMillis();
        this.clockMillis = clockMillis;
    }

    /**
     * Adds a condition every probe checks; {@code name} prefixes its reason in the body
     * (e.g. {@code "listeners"}, {@code "rules"}, {@code "table"}).
     */
    public void require(String name, Condition condition) {
        conditions.add(new NamedCondition(name, condition));
    }

    /**
     * Adds a condition /healthz and the service health checks require but /livez does not: what a
     * daemon still starting has not done yet (the userspace proxy's first listeners), so that no
     * load balancer sends it traffic before it serves, while the kubelet does not restart a process
     * that is only slow to start (kube-proxy's /livez says 200 at start too).
     */
    public void requireForServing(String name, Condition condition) {
        serving.add(new NamedCondition(name, condition));
    }

    /**
     * Adds a condition every probe reports in the body ({@code "degraded"}) without failing it: a
     * bound that one Service or one client hit (frontends past the listener budget), which must
     * not take the whole node out of every load balancer nor get the daemon restarted.
     */
    public void report(String name, Condition condition) {
        degradations.add(new NamedCondition(name, condition));
    }

    /** The reasons of the conditions failing now, each as {@code name: reason}; empty when all hold. */
    public List<String> failures() {
        return failures(true);
    }

    private List<String> failures(boolean forServing) {
        List<String> out = reasons(conditions);
        if (forServing) {
            out.addAll(reasons(serving));
        }
        return out;
    }

    /** The reported (non-failing) conditions that do not hold now, each as {@code name: reason}. */
    public List<String> degradations() {
        return reasons(degradations);
    }

    private static List<String> reasons(List<NamedCondition> from) {
        List<String> out = new ArrayList<>(0);
        for (NamedCondition c : from) {
            String why;
            try {
                why = c.condition().failure();
            } catch (RuntimeException e) {
                why = "check failed: " + e;
            }
            if (why != null) {
                out.add(c.name() + ": " + why);
            }
        }
        return out;
    }

    /** An update arrived that is not applied yet; the oldest one counts. */
    public void queuedUpdate() {
        oldestPendingQueued.compareAndSet(NONE, clockMillis.getAsLong());
    }

    /**
     * Also counts a source's own pending changes: {@code oldestPendingMillis} gives the epoch millis
     * at which the oldest change not yet written arrived, 0 when none (the change tracker's
     * SyncStats.oldestPendingChangeMillis), as kube-proxy's QueuedUpdate at event time.
     */
    public void followPending(LongSupplier oldestPendingMillis) {
        this.externalPending = oldestPendingMillis;
    }

    /** Everything queued so far is applied. */
    public void updated() {
        oldestPendingQueued.set(NONE);
        lastUpdated.set(clockMillis.getAsLong());
    }

    /** Follows this node: ineligible while it is being deleted or tainted for deletion. */
    public void syncNode(Node node) {
        boolean deleting = node.getMetadata() != null && node.getMetadata().getDeletionTimestamp() != null
                && !node.getMetadata().getDeletionTimestamp().isEmpty();
        boolean tainted = node.getSpec() != null && node.getSpec().getTaints() != null
                && node.getSpec().getTaints().stream().map(Taint::getKey).anyMatch(TO_BE_DELETED_TAINT::equals);
        nodeEligible.set(!deleting && !tainted);
    }

    /** This node's object is gone: not eligible (as a node being deleted). */
    public void nodeDeleted() {
        nodeEligible.set(false);
    }

    public boolean nodeEligible() {
        return nodeEligible.get();
    }

    /** kube-proxy's IsHealthy: sync freshness only, ignoring the node (what service health checks use). */
    public boolean healthy() {
        return check(false, true).status() == 200;
    }

    /** The answer to one probe: status code and kube-proxy's JSON body. */
    public record Check(int status, String body) {}

    /** /healthz when {@code withNode}, /livez otherwise. */
    public Check check(boolean withNode) {
        return check(withNode, withNode);
    }

    private Check check(boolean withNode, boolean forServing) {
        long now = clockMillis.getAsLong();
        long pending = oldestPendingQueued.get();
        long external = externalPending.getAsLong();
        if (external > 0 && (pending == NONE || external < pending)) {
            pending = external;
        }
        boolean healthy = pending == NONE || now - pending < healthTimeoutMillis;
        List<String> failures = failures(forServing);
        List<String> degraded = degradations();
        healthy &= failures.isEmpty();
        boolean eligible = nodeEligible.get();
        if (withNode) {
            healthy &= eligible;
        }
        // As kube-proxy: a healthy answer reports lastUpdated as now, for compatibility with the
        // older meaning "the sync loop ran recently".
        long last = healthy ? now : lastUpdated.get();
        String body = "{\"lastUpdated\": \"" + goTime(last) + "\",\"currentTime\": \"" + goTime(now) + "\""
                + (withNode ? ", \"nodeEligible\": " + eligible : "")
                + (failures.isEmpty() ? "" : ", \"failures\": " + jsonArray(failures))
                + (degraded.isEmpty() ? "" : ", \"degraded\": " + jsonArray(degraded)) + "}";
        return new Check(healthy ? 200 : 503, body);
    }

    private static String jsonArray(List<String> items) {
        StringBuilder b = new StringBuilder("[");
        for (int i = 0; i < items.size(); i++) {
            if (i > 0) {
                b.append(", ");
            }
            b.append('"');
            for (char ch : items.get(i).toCharArray()) {
                switch (ch) {
                    case '"' -> b.append("\\\"");
                    case '\\' -> b.append("\\\\");
                    default -> {
                        if (ch < 0x20) {
                            b.append(String.format("\\u%04x", (int) ch));
                        } else {
                            b.append(ch);
                        }
                    }
                }
            }
            b.append('"');
        }
        return b.append(']').toString();
    }

    /** Go's time.Time String() form, UTC, e.g. {@code 2026-11-29 09:17:50.123 +0000 UTC}; the zero time for "never". */
    static String goTime(long millis) {
        if (millis == NONE) {
            return "0001-01-01 00:00:00 +0000 UTC";
        }
        Instant t = Instant.ofEpochMilli(millis);
        String base = GO_TIME.format(t.atOffset(ZoneOffset.UTC));
        int ms = t.getNano() / 1_000_000;
        String frac = "";
        if (ms != 0) {
            frac = String.format(".%03d", ms).replaceAll("0+$", "");
        }
        return base + frac + " +0000 UTC";
    }
}
