package dev.ferry.select;

import dev.ferry.model.Cidr;
import dev.ferry.model.IpAddresses;
import java.net.InetAddress;
import java.util.List;

/**
 * The node-wide settings that decide what happens to a connection besides the service itself, as
 * kube-proxy's configuration names them. Immutable.
 *
 * @param podCidrs           clusterCIDR: sources inside are pods (empty: pods cannot be told apart)
 * @param nodeIps            this node's own addresses (not loopback): NodePorts answer on them, and a
 *                           connection from one of them comes from the node itself
 * @param nodePortAddresses  the CIDRs NodePorts answer in; empty = every node address
 * @param localhostNodePorts iptables.localhostNodePorts: iptables mode also answers NodePorts on 127.0.0.0/8
 * @param masqueradeAll      masquerade every ClusterIP connection
 * @param serviceCidrs       the ClusterIP ranges (nftables mode drops unallocated addresses in them)
 */
public record NodeNetwork(List<Cidr> podCidrs, List<InetAddress> nodeIps, List<Cidr> nodePortAddresses,
                          boolean localhostNodePorts, boolean masqueradeAll, List<Cidr> serviceCidrs) {
    private static final Cidr LOOPBACK_V4 = Cidr.parse("127.0.0.0/8");
    private static final Cidr LOOPBACK_V6 = Cidr.parse("::1/128");

    public NodeNetwork {
        podCidrs = List.copyOf(podCidrs == null ? List.of() : podCidrs);
        nodeIps = List.copyOf(nodeIps == null ? List.of() : nodeIps);
        nodePortAddresses = List.copyOf(nodePortAddresses == null ? List.of() : nodePortAddresses);
        serviceCidrs = List.copyOf(serviceCidrs == null ? List.of() : serviceCidrs);
    }

    /** Nothing known: no pod CIDR, no node IP, NodePorts everywhere, kube-proxy's other defaults. */
    public static NodeNetwork unknown() {
        return new NodeNetwork(List.of(), List.of(), List.of(), true, false, List.of());
    }

    public static boolean isLoopback(InetAddress a) {
        return a.getAddress().length == 4 ? LOOPBACK_V4.contains(a) : LOOPBACK_V6.contains(a);
    }

    /** Whether a is one of this node's addresses (loopback included), as {@code addrtype LOCAL} / {@code fib type local} see it. */
    public boolean isLocal(InetAddress a) {
        return isLoopback(a) || nodeIps.contains(a);
    }

    /** Whether the pod CIDR of a's family is known (kube-proxy's local-traffic detector is implemented). */
    public boolean podCidrKnown(InetAddress a) {
        for (Cidr c : podCidrs) {
            if (c.isIpv6() == (a.getAddress().length == 16)) return true;
        }
        return false;
    }

    /** Where a connection from source comes from; sourceIsNode when the node itself opened it. */
    public TrafficVerdicts.Source classify(InetAddress source, boolean sourceIsNode) {
        if (sourceIsNode || isLocal(source)) return TrafficVerdicts.Source.NODE;
        for (Cidr c : podCidrs) {
            if (c.contains(source)) return TrafficVerdicts.Source.POD;
        }
        return TrafficVerdicts.Source.OTHER;
    }

    boolean inNodePortAddresses(InetAddress a) {
        if (nodePortAddresses.isEmpty()) return true;
        for (Cidr c : nodePortAddresses) {
            if (c.contains(a)) return true;
        }
        return false;
    }

    /** Whether a is in one of the service CIDRs. */
    public boolean inServiceCidrs(InetAddress a) {
        for (Cidr c : serviceCidrs) {
            if (c.contains(a)) return true;
        }
        return false;
    }

    @Override
    public String toString() {
        return "podCidrs=" + podCidrs + " nodeIps=" + nodeIps.stream().map(IpAddresses::format).toList()
                + " nodePortAddresses=" + nodePortAddresses + " localhostNodePorts=" + localhostNodePorts
                + " masqueradeAll=" + masqueradeAll + " serviceCidrs=" + serviceCidrs;
    }
}
