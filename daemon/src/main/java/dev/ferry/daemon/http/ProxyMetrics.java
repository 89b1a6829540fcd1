package dev.ferry.daemon.http;

import dev.ferry.model.Rejection;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.CounterWithCallback;
import io.prometheus.metrics.core.metrics.Gauge;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.LongSupplier;

/**
 * The daemon's Prometheus metrics, in their own registry: kube-proxy's names where kube-proxy has
 * the metric (so existing dashboards and alerts keep working) and {@code ferry_*} for the rest.
 * Latencies go through {@link LatencyHistogram} (HdrHistogram).
 *
 * <p>Thread-safe: every method may be called from any thread; the writer thread records syncs,
 * HTTP threads count probes, a scrape reads everything.
 */
public final class ProxyMetrics {
    private final PrometheusRegistry registry = new PrometheusRegistry();

    private final LatencyHistogram syncDuration = register(new LatencyHistogram("kubeproxy_sync_proxy_rules_duration_seconds",
            "SyncProxyRules latency in seconds (Ferry: rendering and applying the rules to the kernel, or bringing the"
                    + " userspace proxy in line with the table; the table write alone without a data plane)",
            LatencyHistogram.exponential(0.001, 2, 15)));
    private final LatencyHistogram tableWrite = register(new LatencyHistogram("ferry_service_table_write_duration_seconds",
            "Time to write one update into the service table (before the data plane follows it)",
            LatencyHistogram.exponential(0.0001, 2, 15)));
    private final LatencyHistogram fullSyncDuration = register(new LatencyHistogram(
            "kubeproxy_sync_full_proxy_rules_duration_seconds", "SyncProxyRules latency in seconds for full resyncs",
            LatencyHistogram.exponential(0.001, 2, 15)));
    private final LatencyHistogram partialSyncDuration = register(new LatencyHistogram(
            "kubeproxy_sync_partial_proxy_rules_duration_seconds", "SyncProxyRules latency in seconds for partial resyncs",
            LatencyHistogram.exponential(0.001, 2, 15)));
    private final LatencyHistogram networkProgramming = register(new LatencyHistogram(
            "kubeproxy_network_programming_duration_seconds", "In Cluster Network Programming Latency in seconds",
            LatencyHistogram.networkProgrammingBuckets()));

    private final Gauge lastSync = Gauge.builder().name("kubeproxy_sync_proxy_rules_last_timestamp_seconds")
            .help("The last time proxy rules were successfully synced").register(registry);
    private final Gauge lastQueued = Gauge.builder().name("kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds")
            .help("The last time a sync of proxy rules was queued").register(registry);
    private final Counter healthz = Counter.builder().name("kubeproxy_proxy_healthz_total")
            .help("Cumulative proxy healthz HTTP status").labelNames("code").register(registry);
    private final Counter livez = Counter.builder().name("kubeproxy_proxy_livez_total")
            .help("Cumulative proxy livez HTTP status").labelNames("code").register(registry);

    private final Gauge rejected = Gauge.builder().name("ferry_rejected_objects")
            .help("API objects currently skipped because they failed validation, by kind and Kubernetes-style reason")
            .labelNames("kind", "reason").register(registry);
    private final Counter tableWriteErrors = Counter.builder().name("ferry_service_table_write_errors_total")
            .help("Service ports the table refused to store (frontend conflicts, table full)").register(registry);
    private final Gauge tableServicePorts = Gauge.builder().name("ferry_service_table_service_ports")
            .help("Service ports in the service table").register(registry);
    private final Gauge tableEndpoints = Gauge.builder().name("ferry_service_table_endpoints")
            .help("Endpoints in the service table").register(registry);
    private final Gauge tableBytes = Gauge.builder().name("ferry_service_table_bytes_in_use")
            .help("Bytes of the mapped service table in use").register(registry);
    private final Gauge tableGeneration = Gauge.builder().name("ferry_service_table_generation")
            .help("Generation of the service table (bumped by every write)").register(registry);

    private final Object rejectedLock = new Object();
    private Map<List<String>, Integer> rejectedShown = Map.of();

    private <T extends io.prometheus.metrics.model.registry.Collector> T register(T c) {
        registry.register(c);
        return c;
    }

    public PrometheusRegistry registry() {
        return registry;
    }

    /** A sync finished successfully after {@code nanos}; {@code full} for a full resync. */
    public void syncDone(long nanos, boolean full, long epochMillis) {
        syncDuration.record(nanos);
        (full ? fullSyncDuration : partialSyncDuration).record(nanos);
        lastSync.set(epochMillis / 1000d);
    }

    /** One write into the service table took {@code nanos}. */
    public void tableWritten(long nanos) {
        tableWrite.record(nanos);
    }

    public void syncQueued(long epochMillis) {
        lastQueued.set(epochMillis / 1000d);
    }

    /** Time from an API change (its last-change-trigger-time) to the table holding it. */
    public void networkProgrammed(long nanos) {
        networkProgramming.record(nanos);
    }

    public void probe(boolean livenessProbe, int status) {
        (livenessProbe ? livez : healthz).labelValues(Integer.toString(status)).inc();
    }

    /** The objects the current input rejects (replaces the previous set: inputs are full snapshots). */
    public void rejections(List<Rejection> rejections) {
        Map<List<String>, Integer> counts = new TreeMap<>((a, b) -> String.join("/", a).compareTo(String.join("/", b)));
        for (Rejection r : rejections) {
            counts.merge(List.of(r.kind(), r.reason().code()), 1, Integer::sum);
        }
        synchronized (rejectedLock) {
            for (List<String> old : rejectedShown.keySet()) {
                if (!counts.containsKey(old)) rejected.labelValues(old.get(0), old.get(1)).set(0);
            }
            counts.forEach((k, v) -> rejected.labelValues(k.get(0), k.get(1)).set(v));
            rejectedShown = Map.copyOf(counts);
        }
    }

    public void tableWriteErrors(int n) {
        if (n > 0) tableWriteErrors.inc(n);
    }

    public void tableStats(long servicePorts, long endpoints, long bytesInUse, long generation) {
        tableServicePorts.set(servicePorts);
        tableEndpoints.set(endpoints);
        tableBytes.set(bytesInUse);
        tableGeneration.set(generation);
    }

    /**
     * Exposes the service table's change feed: consumers handed a full change (they started, fell
     * behind its bounded history or saw a rebuild) and the names its history holds.
     */
    public void changeFeed(dev.ferry.table.ChangeFeed feed) {
        CounterWithCallback.builder().name("ferry_change_feed_full_changes_total")
                .help("Times a consumer of the table's change feed (rule sync, DNS, health checks) had to read the whole table")
                .callback(cb -> cb.call(feed.fullChanges())).register(registry);
        CounterWithCallback.builder().name("ferry_change_feed_dropped_generations_total")
                .help("Table generations dropped from the change feed's history to keep it within its bound")
                .callback(cb -> cb.call(feed.droppedGenerations())).register(registry);
        io.prometheus.metrics.core.metrics.GaugeWithCallback.builder().name("ferry_change_feed_names")
                .help("Service port names the change feed's history holds (bounded)")
                .callback(cb -> cb.call(feed.keysHeld())).register(registry);
    }

    /**
     * Exposes the service ports that lost a frontend claim to an earlier-named one and wait in the
     * table writer for the frontend ({@link dev.ferry.table.ServiceTable#MAX_DISPLACED} at most), and
     * those not kept because that many were waiting.
     */
    public void frontendClaims(java.util.function.IntSupplier waiting, LongSupplier dropped) {
        io.prometheus.metrics.core.metrics.GaugeWithCallback.builder().name("ferry_service_table_displaced_service_ports")
                .help("Service ports left out because an earlier-named one claims the same frontend, kept for a retry")
                .callback(cb -> cb.call(waiting.getAsInt())).register(registry);
        CounterWithCallback.builder().name("ferry_service_table_displaced_dropped_total")
                .help("Service ports that lost a frontend claim while the retry list was full (written again at the next full sync)")
                .callback(cb -> cb.call(dropped.getAsLong())).register(registry);
    }

    /** Exposes a file source's counters: parse/read failures and rejected objects seen. */
    public void fileSource(LongSupplier errors) {
        CounterWithCallback.builder().name("ferry_file_source_errors_total")
                .help("Times the watched source file could not be read or parsed (the last good table was kept)")
                .callback(cb -> cb.call(errors.getAsLong())).register(registry);
    }

    /**
     * Exposes what the ServiceCIDR watch learned: the ranges in use, those beyond its bound, and
     * spec.cidrs entries that did not parse.
     */
    public void serviceCidrs(LongSupplier ranges, LongSupplier overBound, LongSupplier invalid) {
        io.prometheus.metrics.core.metrics.GaugeWithCallback.builder().name("ferry_service_cidrs")
                .help("Service ranges learned from ServiceCIDR objects (0 when the API does not serve them)")
                .callback(cb -> cb.call(ranges.getAsLong())).register(registry);
        io.prometheus.metrics.core.metrics.GaugeWithCallback.builder().name("ferry_service_cidrs_over_limit")
                .help("ServiceCIDR ranges left out because there are more than the bound")
                .callback(cb -> cb.call(overBound.getAsLong())).register(registry);
        CounterWithCallback.builder().name("ferry_service_cidrs_invalid_total")
                .help("ServiceCIDR spec.cidrs entries that are not CIDRs (left out, logged with the object's name)")
                .callback(cb -> cb.call(invalid.getAsLong())).register(registry);
    }

    /** Exposes how often a file source's snapshot could not be applied (each is logged with its reason and retried). */
    public void fileSourceApplyFailures(LongSupplier applyFailures) {
        CounterWithCallback.builder().name("ferry_file_source_apply_failures_total")
                .help("Times a snapshot read from the source file could not be written to the table (retried; the previous table was kept)")
                .callback(cb -> cb.call(applyFailures.getAsLong())).register(registry);
    }

    /** Exposes the change tracker's counters: rejections since start by reason, rejected and ignored objects now. */
    public void clusterWatch(dev.ferry.watch.SyncStats stats) {
        CounterWithCallback.builder().name("ferry_object_rejections_total")
                .help("API objects (or parts) skipped because they failed validation, counted when first seen, by Kubernetes-style reason")
                .labelNames("reason")
                .callback(cb -> stats.rejectionsByReason().forEach((reason, n) -> cb.call(n, reason.code())))
                .register(registry);
        io.prometheus.metrics.core.metrics.GaugeWithCallback.builder().name("ferry_rejected_objects_current")
                .help("API objects (or parts) failing validation right now")
                .callback(cb -> cb.call(stats.rejectedObjectsNow())).register(registry);
        io.prometheus.metrics.core.metrics.GaugeWithCallback.builder().name("ferry_ignored_services")
                .help("Services ignored by label (service.kubernetes.io/service-proxy-name, service.kubernetes.io/headless)")
                .callback(cb -> cb.call(stats.ignoredServices())).register(registry);
        CounterWithCallback.builder().name("ferry_service_table_writes_total")
                .help("Service ports written to the table by the API watch since start, by operation (added, updated, removed)")
                .labelNames("op")
                .callback(cb -> {
                    cb.call(stats.portsAdded(), "added");
                    cb.call(stats.portsUpdated(), "updated");
                    cb.call(stats.portsRemoved(), "removed");
                }).register(registry);
        CounterWithCallback.builder().name("ferry_sync_failures_total")
                .help("Table syncs that failed and were retried as full syncs")
                .callback(cb -> cb.call(stats.failedSyncs())).register(registry);
    }

    /**
     * Exposes the userspace proxy's data-plane counters: listeners failing to bind now, service
     * addresses put back after they went from the service interface, service ports skipped now
     * because their backends cannot be built, and such skips since start.
     */
    public void userspaceProxy(LongSupplier failedListeners, LongSupplier addressesRestored, LongSupplier skippedNow,
                               LongSupplier skipsTotal) {
        io.prometheus.metrics.core.metrics.GaugeWithCallback.builder().name("ferry_proxy_listen_failures")
                .help("Frontends the table asks for whose listener cannot be opened now (retried every second)")
                .callback(cb -> cb.call(failedListeners.getAsLong())).register(registry);
        CounterWithCallback.builder().name("ferry_service_addresses_restored_total")
                .help("Service addresses put back on the service interface after they had gone from the kernel")
                .callback(cb -> cb.call(addressesRestored.getAsLong())).register(registry);
        io.prometheus.metrics.core.metrics.GaugeWithCallback.builder().name("ferry_proxy_skipped_service_ports")
                .help("Service ports not served now because their backends cannot be built (the others are served)")
                .callback(cb -> cb.call(skippedNow.getAsLong())).register(registry);
        CounterWithCallback.builder().name("ferry_proxy_service_port_skips_total")
                .help("Times a service port's backends could not be built and it was skipped (once per version of it)")
                .callback(cb -> cb.call(skipsTotal.getAsLong())).register(registry);
    }

    /** Exposes how many netlink events named the service interface (each triggers a check of it). */
    public void serviceInterfaceEvents(LongSupplier events) {
        CounterWithCallback.builder().name("ferry_service_interface_events_total")
                .help("Kernel (netlink) events that changed the service interface or its addresses, each followed by a check")
                .callback(cb -> cb.call(events.getAsLong())).register(registry);
    }

    /** Exposes a rule sync loop's failure counters. */
    public void ruleSync(dev.ferry.rules.SyncCounters counters) {
        CounterWithCallback.builder().name("ferry_rule_sync_failures_total")
                .help("Rule syncs the kernel refused (the previous rules stay, retried with back-off)")
                .callback(cb -> cb.call(counters.failures.get())).register(registry);
        io.prometheus.metrics.core.metrics.GaugeWithCallback.builder().name("ferry_rule_sync_consecutive_failures")
                .help("Rule syncs failed in a row since the last success")
                .callback(cb -> cb.call(counters.consecutiveFailures.get())).register(registry);
        CounterWithCallback.builder().name("ferry_rule_sync_periodic_checks_total")
                .help("Periodic syncs that found the kernel holding Ferry's rules, so nothing was rendered or applied")
                .callback(cb -> cb.call(counters.verifiedSyncs.get())).register(registry);
        CounterWithCallback.builder().name("ferry_rule_sync_drift_repairs_total")
                .help("Periodic syncs that found the rules changed behind Ferry's back (or could not rule it out) and rewrote them")
                .callback(cb -> cb.call(counters.driftRepairs.get())).register(registry);
    }

    /** Exposes the DNS responder's counters (nothing when DNS is off). */
    public void dns(dev.ferry.dns.DnsServer dns) {
        if (dns == null) return;
        dev.ferry.dns.QueryCounters c = dns.counters();
        CounterWithCallback.builder().name("ferry_dns_queries_total")
                .help("DNS queries decoded (UDP and TCP) from allowed clients")
                .callback(cb -> cb.call(c.queries())).register(registry);
        CounterWithCallback.builder().name("ferry_dns_refused_clients_total")
                .help("DNS queries (UDP) or connections (TCP) refused: the client is outside the allowed CIDRs")
                .callback(cb -> cb.call(c.refusedClients())).register(registry);
        CounterWithCallback.builder().name("ferry_dns_rate_limited_total")
                .help("DNS queries over UDP dropped unanswered: their source was over its per-client rate")
                .callback(cb -> cb.call(c.rateLimited())).register(registry);
        CounterWithCallback.builder().name("ferry_dns_upstream_answers_rejected_total")
                .help("Answers from upstream dropped: wrong address, port, id or question (spoofing or stray)")
                .callback(cb -> cb.call(dns.rejectedUpstreamAnswers())).register(registry);
    }

    /**
     * Exposes the userspace proxy's bounds: what was refused or evicted because a bound was hit (by
     * reason), what is in use, the limits, and the process's descriptors against RLIMIT_NOFILE.
     */
    public void userspaceBounds(dev.ferry.proxy.ProxyBounds bounds) {
        CounterWithCallback.builder().name("ferry_userspace_refused_total")
                .help("New work the userspace proxy refused because a bound was hit, by reason (udp_flows, connections,"
                        + " listeners: frontends not listened on, accept_error: failed accepts)")
                .labelNames("reason")
                .callback(cb -> {
                    for (var r : dev.ferry.proxy.ProxyBounds.Refusal.values()) {
                        cb.call(bounds.refusals(r), r.label);
                    }
                }).register(registry);
        CounterWithCallback.builder().name("ferry_userspace_udp_flow_evictions_total")
                .help("UDP flows closed before their idle timeout to make room for a new one, by the bound that was hit")
                .labelNames("reason")
                .callback(cb -> {
                    for (var e : dev.ferry.proxy.ProxyBounds.Eviction.values()) {
                        cb.call(bounds.evictions(e), e.label);
                    }
                }).register(registry);
        var l = bounds.limits();
        io.prometheus.metrics.core.metrics.GaugeWithCallback.builder().name("ferry_userspace_in_use")
                .help("What the userspace proxy holds now, by resource").labelNames("resource")
                .callback(cb -> {
                    cb.call(bounds.udpFlows(), "udp_flows");
                    cb.call(bounds.connections(), "connections");
                    cb.call(bounds.listenerSockets(), "listener_sockets");
                }).register(registry);
        io.prometheus.metrics.core.metrics.GaugeWithCallback.builder().name("ferry_userspace_limit")
                .help("The userspace proxy's bounds, by resource").labelNames("resource")
                .callback(cb -> {
                    cb.call(l.udpFlows(), "udp_flows");
                    cb.call(l.udpFlowsPerClient(), "udp_flows_per_client");
                    cb.call(l.connections(), "connections");
                    cb.call(l.listenerSockets(), "listener_sockets");
                }).register(registry);
        if (java.lang.management.ManagementFactory.getOperatingSystemMXBean()
                instanceof com.sun.management.UnixOperatingSystemMXBean os) {
            io.prometheus.metrics.core.metrics.GaugeWithCallback.builder().name("ferry_process_open_fds")
                    .help("File descriptors the daemon has open").callback(cb -> cb.call(os.getOpenFileDescriptorCount()))
                    .register(registry);
            io.prometheus.metrics.core.metrics.GaugeWithCallback.builder().name("ferry_process_max_fds")
                    .help("The daemon's file descriptor limit (RLIMIT_NOFILE)")
                    .callback(cb -> cb.call(os.getMaxFileDescriptorCount())).register(registry);
        }
    }

    LatencyHistogram syncDuration() {
        return syncDuration;
    }
}
