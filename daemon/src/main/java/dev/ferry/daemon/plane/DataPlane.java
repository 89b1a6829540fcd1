package dev.ferry.daemon.plane;

import dev.ferry.daemon.http.ProxierHealth;
import dev.ferry.daemon.http.ProxyMetrics;
import dev.ferry.conntrack.ConntrackConfig;
import dev.ferry.conntrack.ConntrackState;
import dev.ferry.dns.DnsOptions;
import dev.ferry.dns.DnsServer;
import dev.ferry.health.ServiceHealthServers;
import dev.ferry.model.Cidr;
import dev.ferry.model.ServicePort;
import dev.ferry.proxy.ProxyLimits;
import dev.ferry.proxy.ProxyOptions;
import dev.ferry.proxy.UserspaceProxy;
import dev.ferry.rules.Backoff;
import dev.ferry.rules.KernelTool;
import dev.ferry.rules.RuleSyncer;
import dev.ferry.rules.SyncCounters;
import dev.ferry.rules.SyncLoop;
import dev.ferry.rules.iptables.IptablesBackend;
import dev.ferry.rules.iptables.IptablesBackendDetector;
import dev.ferry.rules.iptables.IptablesSyncer;
import dev.ferry.rules.iptables.RenderOptions;
import dev.ferry.rules.ipvs.IpvsOptions;
import dev.ferry.rules.ipvs.IpvsSyncer;
import dev.ferry.rules.ipvs.IpvsUnavailableException;
import dev.ferry.rules.nft.NftOptions;
import dev.ferry.rules.nft.NftSyncer;
import dev.ferry.table.ServicePortView;
import dev.ferry.table.ServiceTableReader;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What `ferry run` drives from the service table besides the table itself: one data plane (the
 * userspace proxy, or a kernel rule sync loop for iptables, nftables or IPVS), the service
 * health-check servers of LoadBalancer services with externalTrafficPolicy Local, and optionally the
 * DNS responder. {@link #onTableChanged()} is called by the table writer after every sync,
 * {@link #tick()} by it once a second.
 *
 * <p>The data plane, not the table write, is what the sync metrics and the proxier health measure:
 * a sync is done when the kernel holds the rules (rule modes) or the proxy serves the table
 * (userspace). Its health conditions ({@link ProxierHealth#require}) say when it cannot serve what
 * the table holds: rules failing to apply after retries, listeners that cannot bind, service
 * addresses missing from the service interface.
 */
public final class DataPlane implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(DataPlane.class);

    /** The data plane kinds, by their kube-proxy mode names. */
    public enum Kind { NONE, USERSPACE, IPTABLES, NFTABLES, IPVS }

    /**
     * Everything a data plane needs from the configuration; iptablesBackend null means detect it at
     * start; proxyTransport is one of the userspace proxy's transports (auto: io_uring, else epoll, else NIO);
     * serviceCidrs are the ClusterIP ranges (nftables mode drops unallocated addresses in them);
     * localhostNodePorts is iptables.localhostNodePorts; nodeIps the node's primary IPs (source ranges
     * that cover one of them admit the LB IPs as sources).
     * proxyLimits bound what clients and Services can make the userspace proxy hold.
     */
    public record Settings(Kind kind, Path stateDir, String nodeName, List<Cidr> clusterCidrs, boolean masqueradeAll,
                           List<Cidr> nodePortAddresses, Duration syncPeriod, String defaultAlgorithm,
                           String serviceInterface, InetSocketAddress dnsBind, List<InetSocketAddress> dnsUpstreams,
                           List<Cidr> dnsAllowCidrs, String clusterDomain, IptablesBackend iptablesBackend, String proxyTransport,
                           List<Cidr> serviceCidrs, boolean localhostNodePorts, List<InetAddress> nodeIps,
                           ProxyLimits proxyLimits) {}

    private final ServiceTableReader reader;
    private final Settings settings;
    private final ProxierHealth proxierHealth;
    private final ProxyMetrics metrics;
    /**
     * While netlink events of the service interface are followed, the periodic check is a backstop
     * (events can be lost) run every this many ticks; every tick while something is failing or
     * without events. One check costs one `ip -o addr show` (measured ~15-40 ms at 1 000 service
     * addresses, ~80-140 ms at 10 000, on a loaded 2-core machine).
     */
    static final int TICKS_PER_CHECK_WITH_EVENTS = 10;

    private long seenTableGeneration = -1; // writer thread only
    private dev.ferry.proxy.InterfaceWatch watch;
    private long ticks; // writer thread only
    private SyncReporter syncs; // set at start, before the first table change
    private volatile BiConsumer<String, String> skipListener = (servicePort, why) -> { };
    private final List<AutoCloseable> closeables = new ArrayList<>();
    private UserspaceProxy proxy;
    private SyncLoop loop;
    private ServiceRanges serviceRanges;
    private ServiceHealthServers health;
    private DnsServer dns;
    /** Service ports decoded at the last sync, by record stamp; touched by the table writer thread only. */
    private Map<Long, ServicePort> decoded = new HashMap<>();

    private java.util.function.Supplier<ConntrackState> conntrack;

    private DataPlane(ServiceTableReader reader, Settings settings, ProxierHealth health, ProxyMetrics metrics) {
        this.reader = reader;
        this.settings = settings;
        this.proxierHealth = health;
        this.metrics = metrics;
    }

    /**
     * Starts the configured pieces; nothing is flushed or torn down at start. A mode this kernel
     * cannot run (IPVS without ip_vs) fails here with the reason, before any rule is touched.
     */
    public static DataPlane start(ServiceTableReader reader, Settings s, ProxierHealth health, ProxyMetrics metrics)
            throws IOException {
        return start(reader, s, health, metrics, () -> ConntrackState.open(s.stateDir(), ConntrackConfig.DEFAULTS));
    }

    /**
     * As {@link #start(ServiceTableReader, Settings, ProxierHealth, ProxyMetrics)}, with the userspace
     * proxy's conntrack tables from {@code conntrack} (asked only in userspace mode; e.g. opened on
     * another thread while the caller read its source), which this data plane then owns and closes.
     */
    public static DataPlane start(ServiceTableReader reader, Settings s, ProxierHealth health, ProxyMetrics metrics,
                                  java.util.function.Supplier<ConntrackState> conntrack) throws IOException {
        DataPlane p = new DataPlane(reader, s, health, metrics);
        p.conntrack = conntrack;
        try {
            p.startAll();
        } catch (IOException | RuntimeException e) {
            p.close();
            throw e;
        }
        return p;
    }

    /**
     * The userspace proxy's start-up warm-up: connections (-Dferry.proxy.warmup overrides it for
     * measurements; 0 turns it off), and the time it may take at most.
     */
    static final int WARMUP_CONNECTIONS = 20_000;
    static final java.time.Duration WARMUP_BUDGET = java.time.Duration.ofSeconds(20);

    private void startAll() throws IOException {
        // Ferry's own service addresses (left on the service interface by a previous run) are not the node's.
        List<InetAddress> nodeIps = NodeAddresses.matching(settings.nodePortAddresses(), settings.serviceInterface());
        switch (settings.kind()) {
            case USERSPACE -> {
                ConntrackState ct = conntrack.get();
                closeables.add(ct);
                ProxyOptions o = ProxyOptions.defaults().withConntrack(ct).withNodePortAddresses(nodeIps)
                        .withDefaultAlgorithm(settings.defaultAlgorithm()).withServiceInterface(settings.serviceInterface())
                        .withTransport(settings.proxyTransport()).withLimits(settings.proxyLimits());
                proxy = new UserspaceProxy(reader, o);
                proxy.onSkipped((servicePort, why) -> skipListener.accept(servicePort, why));
                closeables.add(0, proxy);
                proxy.start();
                // After the listeners are bound, on its own thread: the first clients of a restarted
                // daemon otherwise pay for the JIT (issue 18: ~0.5x HAProxy's short connections/s cold).
                proxy.warmUp(Integer.getInteger("ferry.proxy.warmup", WARMUP_CONNECTIONS), WARMUP_BUDGET);
                syncs = new SyncReporter(metrics, proxierHealth, System::currentTimeMillis, null);
                UserspaceProxy p = proxy;
                proxierHealth.require("listeners", p::listenFailure);
                proxierHealth.require("addresses", p::addressFailure);
                metrics.userspaceProxy(p::failedListeners, p::addressesRestored, () -> p.skippedServicePorts().size(),
                        p::skipCount);
                LOG.info("userspace proxy on {} ({} listeners), NodePorts on {}", proxy.transport(), proxy.listenerCount(),
                        nodeIps);
            }
            case IPTABLES -> {
                KernelTool tool = new KernelTool();
                IptablesBackend backend = settings.iptablesBackend();
                if (backend == null) {
                    backend = IptablesBackendDetector.detect(tool).backend(); // logs which and why
                } else {
                    LOG.info("iptables backend: {} (--iptables-backend)", backend.name());
                }
                startLoop("iptables", new IptablesSyncer(tool, RenderOptions.defaults(false)
                        .withClusterCidrs(settings.clusterCidrs()).withMasqueradeAll(settings.masqueradeAll())
                        .withNodePortAddresses(settings.nodePortAddresses())
                        .withLocalhostNodePorts(settings.localhostNodePorts()).withNodeIps(settings.nodeIps()), true, true,
                        new dev.ferry.rules.KernelConntrackCleaner(), backend));
            }
            case NFTABLES -> {
                NftSyncer nft = new NftSyncer(NftOptions.defaults().withClusterCidrs(settings.clusterCidrs())
                        .withMasqueradeAll(settings.masqueradeAll()).withNodePortAddresses(settings.nodePortAddresses())
                        .withServiceCidrs(settings.serviceCidrs()).withNodeIps(settings.nodeIps()),
                        new KernelTool(), new dev.ferry.rules.KernelConntrackCleaner());
                startLoop("nftables", nft);
                serviceRanges = new ServiceRanges(settings.serviceCidrs(), nft, loop::requestFullSync);
            }
            case IPVS -> {
                try {
                    startLoop("ipvs", IpvsSyncer.start(new KernelTool(), new IpvsOptions(settings.defaultAlgorithm(), nodeIps,
                            settings.clusterCidrs(), settings.masqueradeAll(), 14), new dev.ferry.rules.KernelConntrackCleaner()));
                } catch (IpvsUnavailableException e) {
                    throw new IOException("--mode ipvs: " + e.getMessage(), e);
                }
            }
            case NONE -> LOG.info("no data plane: the service table only");
        }
        if (!settings.nodePortAddresses().isEmpty() && nodeIps.isEmpty()) {
            // kube-proxy's behaviour: nodePortAddresses that match no node address serve no health checks.
            LOG.warn("nodePortAddresses {} match no address of this node: no service health-check ports",
                    settings.nodePortAddresses());
        } else {
            health = new ServiceHealthServers(reader, settings.nodeName(),
                    settings.nodePortAddresses().isEmpty() ? List.of() : nodeIps, proxierHealth::healthy);
            closeables.add(health);
        }
        if (settings.dnsBind() != null) {
            DnsOptions o = DnsOptions.of(settings.dnsBind()).withUpstreams(settings.dnsUpstreams())
                    .withAllowedClients(DnsClients.allowed(settings.dnsAllowCidrs(), settings.clusterCidrs(),
                            settings.serviceInterface()));
            if (settings.clusterDomain() != null) {
                o = o.withClusterDomain(settings.clusterDomain());
            }
            dns = new DnsServer(reader, o);
            dns.start();
            closeables.add(dns);
            LOG.info("service DNS on {} (udp) and {} (tcp)", dns.udpAddress(), dns.tcpAddress());
        }
    }

    private void startLoop(String name, RuleSyncer syncer) {
        loop = new SyncLoop(name, syncer, settings.syncPeriod(), new Backoff(Duration.ofMillis(500), Duration.ofSeconds(30)));
        SyncLoop l = loop;
        syncs = new SyncReporter(metrics, proxierHealth, System::currentTimeMillis, l::generationApplied);
        loop.onApplied(syncs::ruleApplied);
        proxierHealth.require("rules", SyncReporter.rulesApplied(name, l.counters(), l::lastError));
        metrics.ruleSync(l.counters());
        closeables.add(0, loop);
        loop.start();
        LOG.info("{} rule sync started (kernel checked every {}, rewritten on drift and every {})", name,
                settings.syncPeriod(), SyncLoop.FULL_SYNC_PERIOD);
    }

    /**
     * Runs {@code r} once the data plane serves what the table holds now: at once for the userspace
     * proxy (it follows the table on the writer thread, before this is called) and without a data
     * plane, after the next successful apply in rule modes.
     */
    public void whenApplied(Runnable r) {
        if (syncs == null) {
            r.run();
        } else {
            syncs.whenApplied(r);
        }
    }

    /**
     * The service ranges the cluster's ServiceCIDR objects give now (any thread): nftables mode drops
     * unallocated addresses in these and in the configured ones ({@link ServiceRanges#merge}),
     * re-rendered at once. Returns the merged ranges. Other modes have no such drop.
     */
    public List<Cidr> apiServiceCidrs(List<Cidr> fromApi) {
        return serviceRanges != null ? serviceRanges.fromApi(fromApi) : ServiceRanges.merge(settings.serviceCidrs(), fromApi);
    }

    /** Whether this data plane reports syncs done (metrics, health); false: the table write is the sync. */
    public boolean reportsSyncs() {
        return proxy != null || loop != null;
    }

    /** Called (writer thread) with each service port the proxy skips and why, e.g. to post an Event. */
    public void onServicePortSkipped(BiConsumer<String, String> listener) {
        this.skipListener = listener;
    }

    /** Follows the table after a sync; called on the table writer's thread. */
    public void onTableChanged() {
        if (proxy != null) {
            long start = System.nanoTime();
            syncs.proxyUpdated(proxy.onTableChanged() ? System.nanoTime() - start : -1);
        }
        if (loop != null) {
            long gen = reader.generation();
            if (gen != seenTableGeneration) {
                seenTableGeneration = gen;
                syncs.offered(loop.update(allPorts()));
            } else {
                syncs.unchanged();
            }
        }
        if (health != null) {
            health.sync();
        }
    }

    /**
     * Follows the kernel's netlink events of the userspace proxy's service interface and runs
     * {@link #tick()} through {@code onWriter} (the table writer's thread) soon after one, coalesced:
     * an {@code ip addr flush} is repaired at once, not at the next second. No-op in other modes.
     */
    public void followKernel(java.util.function.Consumer<Runnable> onWriter) {
        if (proxy == null || proxy.serviceInterface() == null) {
            return;
        }
        java.util.concurrent.atomic.AtomicBoolean queued = new java.util.concurrent.atomic.AtomicBoolean();
        watch = dev.ferry.proxy.InterfaceWatch.start(proxy.serviceInterface().name(), () -> {
            if (queued.compareAndSet(false, true)) {
                onWriter.accept(() -> {
                    queued.set(false);
                    proxy.reconcile();
                });
            }
        });
        if (watch != null) {
            closeables.add(0, watch);
            metrics.serviceInterfaceEvents(watch::events);
        }
    }

    /**
     * What can drift without the table changing, checked on the writer thread (called once a second):
     * the userspace proxy's service addresses against the kernel, and listeners that failed to bind;
     * every second without netlink events or while something fails, else every
     * {@value #TICKS_PER_CHECK_WITH_EVENTS} s as a backstop to the events.
     */
    public void tick() {
        if (proxy == null) {
            return;
        }
        ticks++;
        boolean following = watch != null && watch.alive();
        if (!following || proxy.failing() || ticks % TICKS_PER_CHECK_WITH_EVENTS == 0) {
            proxy.reconcile();
        }
    }

    /**
     * The rule syncers need the whole desired state; the table is its single copy. A record's stamp
     * changes whenever it is rewritten, so only records written since the last sync are decoded: a
     * one-endpoint change costs one decode plus a walk of the index, not a decode of every service.
     */
    private List<ServicePort> allPorts() {
        List<ServicePort> out = new ArrayList<>();
        Map<Long, ServicePort> current = new HashMap<>(decoded.size() * 2 + 16);
        ServicePortView v = new ServicePortView();
        reader.forEach(v, view -> {
            ServicePort sp = decoded.get(view.stamp());
            if (sp == null) {
                sp = view.toServicePort();
                if (!view.isValid()) {
                    return;
                }
            }
            current.put(view.stamp(), sp);
            out.add(sp);
        });
        decoded = current;
        return out;
    }

    public UserspaceProxy proxy() {
        return proxy;
    }

    public SyncCounters ruleCounters() {
        return loop == null ? null : loop.counters();
    }

    public ServiceHealthServers healthServers() {
        return health;
    }

    public DnsServer dns() {
        return dns;
    }

    @Override
    public void close() {
        for (AutoCloseable c : closeables) {
            try {
                c.close();
            } catch (Exception e) {
                LOG.warn("stopping {}: {}", c.getClass().getSimpleName(), e.toString());
            }
        }
        closeables.clear();
    }
}
