package dev.ferry.rules.ipvs;

import dev.ferry.model.Cidr;
import java.net.InetAddress;
import java.util.List;

/**
 * IPVS mode's configuration (kube-proxy's ipvs section): the default scheduler, the node addresses
 * on which NodePorts are served, the clusterCIDRs (off-cluster traffic to a ClusterIP is
 * masqueraded), masqueradeAll and the mark bit. Immutable.
 */
public record IpvsOptions(String scheduler, List<InetAddress> nodeIPs, List<Cidr> clusterCidrs, boolean masqueradeAll,
                          int masqueradeBit) {
    /** The dummy interface that holds every service address, as kube-proxy names it. */
    public static final String INTERFACE = "kube-ipvs0";

    public IpvsOptions {
        scheduler = scheduler == null || scheduler.isEmpty() ? "rr" : scheduler;
        nodeIPs = List.copyOf(nodeIPs == null ? List.of() : nodeIPs);
        clusterCidrs = List.copyOf(clusterCidrs == null ? List.of() : clusterCidrs);
    }

    public static IpvsOptions defaults() {
        return new IpvsOptions("rr", List.of(), List.of(), false, 14);
    }

    String mark() {
        return "0x" + Integer.toHexString(1 << masqueradeBit);
    }
}
