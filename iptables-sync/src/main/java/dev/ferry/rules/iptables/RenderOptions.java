package dev.ferry.rules.iptables;

import dev.ferry.model.Cidr;
import java.util.ArrayList;
import java.util.List;

/**
 * How the iptables rules are rendered for one IP family, as kube-proxy's configuration sets it:
 * clusterCIDRs (traffic from outside them to a ClusterIP is masqueraded; empty = no such masquerade),
 * masqueradeAll, nodePortAddresses (empty = every local address) and the masquerade mark bit
 * (kube-proxy's default 14, mark 0x4000). CIDRs of the other family are ignored. Immutable.
 */
public record RenderOptions(boolean ipv6, List<Cidr> clusterCidrs, boolean masqueradeAll,
                            List<Cidr> nodePortAddresses, int masqueradeBit) {

    public RenderOptions {
        clusterCidrs = List.copyOf(clusterCidrs == null ? List.of() : clusterCidrs);
        nodePortAddresses = List.copyOf(nodePortAddresses == null ? List.of() : nodePortAddresses);
        if (masqueradeBit < 0 || masqueradeBit > 31) {
            throw new IllegalArgumentException("masqueradeBit must be 0-31, got " + masqueradeBit);
        }
    }

    /** kube-proxy's defaults: no clusterCIDR, no masqueradeAll, NodePorts on every local address, bit 14. */
    public static RenderOptions defaults(boolean ipv6) {
        return new RenderOptions(ipv6, List.of(), false, List.of(), 14);
    }

    public RenderOptions withFamily(boolean v6) {
        return new RenderOptions(v6, clusterCidrs, masqueradeAll, nodePortAddresses, masqueradeBit);
    }

    public RenderOptions withClusterCidrs(List<Cidr> cidrs) {
        return new RenderOptions(ipv6, cidrs, masqueradeAll, nodePortAddresses, masqueradeBit);
    }

    public RenderOptions withMasqueradeAll(boolean all) {
        return new RenderOptions(ipv6, clusterCidrs, all, nodePortAddresses, masqueradeBit);
    }

    public RenderOptions withNodePortAddresses(List<Cidr> cidrs) {
        return new RenderOptions(ipv6, clusterCidrs, masqueradeAll, cidrs, masqueradeBit);
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
