package dev.ferry.daemon.config;

import dev.ferry.lb.Algorithm;
import dev.ferry.model.Cidr;
import dev.ferry.model.IpAddresses;
import java.net.InetAddress;
import java.time.Duration;
import java.util.List;

/**
 * The daemon's effective settings, as read from a KubeProxyConfiguration file (with kube-proxy's
 * defaults for what it leaves out) and then overridden by command-line flags. Immutable.
 *
 * @param mode               kube-proxy's {@code mode}; {@link ProxyMode#DEFAULT} when empty
 * @param clusterCIDRs       {@code clusterCIDR} split on commas (at most one per family); empty when unset
 * @param bindAddress        {@code bindAddress} (default 0.0.0.0)
 * @param healthzBindAddress {@code healthzBindAddress} (default 0.0.0.0:10256): /healthz and /livez
 * @param metricsBindAddress {@code metricsBindAddress} (default 127.0.0.1:10249): /metrics
 * @param nodePortAddresses  {@code nodePortAddresses}: CIDRs, or the word {@code primary}; empty = every address
 * @param syncPeriod         the mode's {@code syncPeriod} (default 30s): the full resync interval
 * @param minSyncPeriod      the mode's {@code minSyncPeriod} (default 1s): the least time between syncs under churn
 * @param masqueradeAll      {@code iptables.masqueradeAll} (or {@code nftables.masqueradeAll} in nftables mode)
 * @param conntrack          {@code conntrack.*}
 * @param hostnameOverride   {@code hostnameOverride}; empty when unset
 * @param kubeconfig         {@code clientConnection.kubeconfig}; empty when unset
 * @param scheduler          {@code ipvs.scheduler} mapped to Ferry's load-balancing algorithm (default rr)
 * @param localhostNodePorts {@code iptables.localhostNodePorts} (default true): iptables mode serves NodePorts
 *                           on 127.0.0.0/8 too (route_localnet=1)
 * @param multiCidrServiceAllocator {@code featureGates.MultiCIDRServiceAllocator} (default false, as in
 *                           kube-proxy 1.32): learn the service ranges from ServiceCIDR objects (API source)
 */
public record ProxyConfig(
        ProxyMode mode,
        List<Cidr> clusterCIDRs,
        InetAddress bindAddress,
        BindAddress healthzBindAddress,
        BindAddress metricsBindAddress,
        List<String> nodePortAddresses,
        Duration syncPeriod,
        Duration minSyncPeriod,
        boolean masqueradeAll,
        Conntrack conntrack,
        String hostnameOverride,
        String kubeconfig,
        Algorithm scheduler,
        boolean localhostNodePorts,
        boolean multiCidrServiceAllocator) {

    public static final int HEALTHZ_PORT = 10256;
    public static final int METRICS_PORT = 10249;

    public ProxyConfig {
        clusterCIDRs = List.copyOf(clusterCIDRs);
        nodePortAddresses = List.copyOf(nodePortAddresses);
        hostnameOverride = hostnameOverride == null ? "" : hostnameOverride;
        kubeconfig = kubeconfig == null ? "" : kubeconfig;
    }

    /**
     * kube-proxy's conntrack settings. A zero leaves the kernel's value alone (as in kube-proxy).
     */
    public record Conntrack(int maxPerCore, int min, Duration tcpEstablishedTimeout, Duration tcpCloseWaitTimeout,
                            boolean tcpBeLiberal, Duration udpTimeout, Duration udpStreamTimeout) {
        public static final Conntrack DEFAULTS = new Conntrack(32 * 1024, 128 * 1024, Duration.ofHours(24),
                Duration.ofHours(1), false, Duration.ZERO, Duration.ZERO);
    }

    /** kube-proxy's defaults: what an empty KubeProxyConfiguration means. */
    public static ProxyConfig defaults() {
        return new ProxyConfig(ProxyMode.DEFAULT, List.of(), IpAddresses.parse("0.0.0.0"),
                new BindAddress(IpAddresses.parse("0.0.0.0"), HEALTHZ_PORT),
                new BindAddress(IpAddresses.parse("127.0.0.1"), METRICS_PORT),
                List.of(), Duration.ofSeconds(30), Duration.ofSeconds(1), false, Conntrack.DEFAULTS, "", "", Algorithm.RR, true, false);
    }

    /**
     * Command-line flags that override the file; null means "not given". Parsed values, so that a
     * bad flag is reported against the flag before the file is read.
     */
    public record Overrides(ProxyMode mode, BindAddress healthzBindAddress, BindAddress metricsBindAddress,
                            String hostnameOverride, String kubeconfig) {
        public static final Overrides NONE = new Overrides(null, null, null, null, null);
    }

    /** This config with every given flag in place of the file's value. */
    public ProxyConfig with(Overrides o) {
        return new ProxyConfig(
                o.mode() != null ? o.mode() : mode,
                clusterCIDRs, bindAddress,
                o.healthzBindAddress() != null ? o.healthzBindAddress() : healthzBindAddress,
                o.metricsBindAddress() != null ? o.metricsBindAddress() : metricsBindAddress,
                nodePortAddresses, syncPeriod, minSyncPeriod, masqueradeAll, conntrack,
                o.hostnameOverride() != null ? o.hostnameOverride() : hostnameOverride,
                o.kubeconfig() != null ? o.kubeconfig() : kubeconfig,
                scheduler, localhostNodePorts, multiCidrServiceAllocator);
    }

    /** kube-proxy's health timeout: a queued update not applied within this makes /healthz and /livez 503. */
    public Duration healthTimeout() {
        return syncPeriod.multipliedBy(2);
    }
}
