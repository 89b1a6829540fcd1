package dev.ferry.rules.iptables;

import dev.ferry.model.Cidr;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;

/**
 * How the iptables rules are rendered for one IP family, as kube-proxy's configuration sets it:
 * clusterCIDRs (traffic from outside them to a ClusterIP is masqueraded; empty = no such masquerade),
 * masqueradeAll, nodePortAddresses (empty = every local address) and the masquerade mark bit
 * (kube-proxy's default 14, mark 0x4000). CIDRs of the other family are ignored.
 * localhostNodePorts is kube-proxy's {@code iptables.localhostNodePorts} (default true): NodePorts
 * also answer on 127.0.0.0/8 (IPv4 only), which needs {@code route_localnet=1} and the KUBE-FIREWALL
 * rule that drops martian localnet traffic. nodeIps are the node's primary IPs (kube-proxy's nodeIPs):
 * a loadBalancerSourceRange covering one of them also admits the LB IPs as sources. Immutable.
 */
public record RenderOptions(boolean ipv6, List<Cidr> clusterCidrs, boolean masqueradeAll,
                            List<Cidr> nodePortAddresses, int masqueradeBit, boolean localhostNodePorts,
                            List<InetAddress> nodeIps) {

    public RenderOptions {
        clusterCidrs = List.copyOf(clusterCidrs == null ? List.of() : clusterCidrs);
        nodePortAddresses = List.copyOf(nodePortAddresses == null ? List.of() : nodePortAddresses);
        nodeIps = List.copyOf(nodeIps == null ? List.of() : nodeIps);
        if (masqueradeBit < 0 || masqueradeBit > 31) {
            throw new IllegalArgumentException("masqueradeBit must be 0-31, got " + masqueradeBit);
        }
    }

    /**
     * kube-proxy's defaults: no clusterCIDR, no masqueradeAll, NodePorts on every local address
     * (localhost included), bit 14, no known node IP.
     */
    public static RenderOptions defaults(boolean ipv6) {
        return new RenderOptions(ipv6, List.of(), false, List.of(), 14, true, List.of());
    }

    public RenderOptions withFamily(boolean v6) {
        return new RenderOptions(v6, clusterCidrs, masqueradeAll, nodePortAddresses, masqueradeBit, localhostNodePorts, nodeIps);
    }

    public RenderOptions withClusterCidrs(List<Cidr> cidrs) {
        return new RenderOptions(ipv6, cidrs, masqueradeAll, nodePortAddresses, masqueradeBit, localhostNodePorts, nodeIps);
    }

    public RenderOptions withMasqueradeAll(boolean all) {
        return new RenderOptions(ipv6, clusterCidrs, all, nodePortAddresses, masqueradeBit, localhostNodePorts, nodeIps);
    }

    public RenderOptions withNodePortAddresses(List<Cidr> cidrs) {
        return new RenderOptions(ipv6, clusterCidrs, masqueradeAll, cidrs, masqueradeBit, localhostNodePorts, nodeIps);
    }

    public RenderOptions withLocalhostNodePorts(boolean on) {
        return new RenderOptions(ipv6, clusterCidrs, masqueradeAll, nodePortAddresses, masqueradeBit, on, nodeIps);
    }

    public RenderOptions withNodeIps(List<InetAddress> ips) {
        return new RenderOptions(ipv6, clusterCidrs, masqueradeAll, nodePortAddresses, masqueradeBit, localhostNodePorts, ips);
    }

    /**
     * Whether this family's NodePorts answer on 127.0.0.0/8: IPv4 only (the kernel cannot route IPv6
     * loopback traffic out), localhostNodePorts on, and nodePortAddresses empty or covering 127.0.0.1.
     * The syncer then sets route_localnet=1, without which the DNAT'd connection would hang.
     */
    public boolean servesLocalhostNodePorts() {
        if (ipv6 || !localhostNodePorts) return false;
        List<Cidr> cidrs = nodePortCidrs();
        if (cidrs.isEmpty()) return true;
        InetAddress lo = dev.ferry.model.IpAddresses.parse("127.0.0.1");
        for (Cidr c : cidrs) {
            if (c.contains(lo)) return true;
        }
        return false;
    }

    /** This family's node IPs. */
    List<InetAddress> nodeIpsOfFamily() {
        List<InetAddress> out = new ArrayList<>();
        for (InetAddress ip : nodeIps) {
            if ((ip.getAddress().length == 16) == ipv6) out.add(ip);
        }
        return out;
    }

    /** "0x4000" for bit 14. */
    public String masqueradeMark() {
        return "0x" + Integer.toHexString(1 << masqueradeBit);
    }

    /** The first clusterCIDR of this family (kube-proxy's local detector takes one), or null. */
    Cidr clusterCidr() {
        for (Cidr c : clusterCidrs) {
            if (c.isIpv6() == ipv6) {
                return c;
            }
        }
        return null;
    }

    List<Cidr> nodePortCidrs() {
        List<Cidr> out = new ArrayList<>();
        for (Cidr c : nodePortAddresses) {
            if (c.isIpv6() == ipv6) {
                out.add(c);
            }
        }
        return out;
    }
}
