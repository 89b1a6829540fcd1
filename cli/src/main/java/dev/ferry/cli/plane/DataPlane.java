package dev.ferry.cli.plane;

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
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What `ferry run` drives from the service table besides the table itself: one data plane (the
 * userspace proxy, or a kernel rule sync loop for iptables, nftables or IPVS), the service
 * health-check servers of LoadBalancer services with externalTrafficPolicy Local, and optionally the
 * DNS responder. {@link #onTableChanged()} is called by the table writer after every sync.
 */
public final class DataPlane implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(DataPlane.class);

    /** The data plane kinds, by their kube-proxy mode names. */
    public enum Kind { NONE, USERSPACE, IPTABLES, NFTABLES, IPVS }

    /**
     * Everything a data plane needs from the configuration; iptablesBackend null means detect it at
     * start; proxyTransport is one of the userspace proxy's transports (auto: io_uring, else epoll, else NIO);
     * proxyLimits bound what clients and Services can make the userspace proxy hold.
     */
    public record Settings(Kind kind, Path stateDir, String nodeName, List<Cidr> clusterCidrs, boolean masqueradeAll,
                           List<Cidr> nodePortAddresses, Duration syncPeriod, String defaultAlgorithm,
                           String serviceInterface, InetSocketAddress dnsBind, List<InetSocketAddress> dnsUpstreams,
                           String clusterDomain, IptablesBackend iptablesBackend, String proxyTransport,
                           ProxyLimits proxyLimits) {}

    private final ServiceTableReader reader;
    private final Settings settings;
    private final List<AutoCloseable> closeables = new ArrayList<>();
    private UserspaceProxy proxy;
    private SyncLoop loop;
    private ServiceHealthServers health;
    private DnsServer dns;
    /** Service ports decoded at the last sync, by record stamp; touched by the table writer thread only. */
    private Map<Long, ServicePort> decoded = new HashMap<>();

    private DataPlane(ServiceTableReader reader, Settings settings) {
        this.reader = reader;
        this.settings = settings;
    }

    /**
     * Starts the configured pieces; nothing is flushed or torn down at start. A mode this kernel
     * cannot run (IPVS without ip_vs) fails here with the reason, before any rule is touched.
     */
    public static DataPlane start(ServiceTableReader reader, Settings s, BooleanSupplier healthy) throws IOException {
        DataPlane p = new DataPlane(reader, s);
        try {
            p.startAll(healthy);
        } catch (IOException | RuntimeException e) {
            p.close();
            throw e;
        }
        return p;
    }

    private void startAll(BooleanSupplier healthy) throws IOException {
        List<InetAddress> nodeIps = NodeAddresses.matching(settings.nodePortAddresses());
        switch (settings.kind()) {
            case USERSPACE -> {
                ConntrackState ct = ConntrackState.open(settings.stateDir(), ConntrackConfig.DEFAULTS);
                closeables.add(ct);
                ProxyOptions o = ProxyOptions.defaults().withConntrack(ct).withNodePortAddresses(nodeIps)
                        .withDefaultAlgorithm(settings.defaultAlgorithm()).withServiceInterface(settings.serviceInterface())
                        .withTransport(settings.proxyTransport()).withLimits(settings.proxyLimits());
                proxy = new UserspaceProxy(reader, o);
                closeables.add(0, proxy);
                proxy.start();
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
                        .withNodePortAddresses(settings.nodePortAddresses()), true, true,
                        new dev.ferry.conntrack.KernelConntrackCleaner(), backend));
            }
            case NFTABLES -> startLoop("nftables", new NftSyncer(NftOptions.defaults().withClusterCidrs(settings.clusterCidrs())
                    .withMasqueradeAll(settings.masqueradeAll()).withNodePortAddresses(settings.nodePortAddresses()),
                    new KernelTool(), new dev.ferry.conntrack.KernelConntrackCleaner()));
            case IPVS -> {
                try {
                    startLoop("ipvs", IpvsSyncer.start(new KernelTool(), new IpvsOptions(settings.defaultAlgorithm(), nodeIps,
                            settings.clusterCidrs(), settings.masqueradeAll(), 14), new dev.ferry.conntrack.KernelConntrackCleaner()));
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
                    settings.nodePortAddresses().isEmpty() ? List.of() : nodeIps, healthy);
            closeables.add(health);
        }
        if (settings.dnsBind() != null) {
            DnsOptions o = DnsOptions.of(settings.dnsBind()).withUpstreams(settings.dnsUpstreams());
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
        closeables.add(0, loop);
        loop.start();
        LOG.info("{} rule sync started (full sync every {})", name, settings.syncPeriod());
    }

    /** Follows the table after a sync; called on the table writer's thread. */
    public void onTableChanged() {
        if (proxy != null) {
            proxy.onTableChanged();
        }
        if (loop != null) {
            loop.update(allPorts());
        }
        if (health != null) {
            health.sync();
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
