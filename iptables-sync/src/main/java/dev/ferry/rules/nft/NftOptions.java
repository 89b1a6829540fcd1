package dev.ferry.rules.nft;

import dev.ferry.model.Cidr;
import java.net.InetAddress;
import java.util.List;
import java.util.Objects;

/**
 * Node-wide settings of the nftables mode, as KubeProxyConfiguration names them. Immutable.
 *
 * @param table            name of Ferry's {@code ip} and {@code ip6} tables (default "ferry")
 * @param clusterCidrs     pod CIDRs: traffic from outside them to a ClusterIP is masqueraded
 *                         (kube-proxy's clusterCIDR / detectLocal); empty = only masqueradeAll applies
 * @param masqueradeAll    masquerade every ClusterIP connection
 * @param nodePortAddresses CIDRs of node addresses NodePorts answer on; empty = every local address
 *                         except loopback
 * @param masqueradeBit    the packet mark bit meaning "masquerade me" (kube-proxy: 0x4000)
 * @param serviceCidrs     the service (ClusterIP) ranges: new connections to an address in them that no
 *                         service holds are dropped, as kube-proxy's nftables mode; empty = no such drop
 * @param nodeIps          the node's primary IPs: a loadBalancerSourceRange covering one of them also
 *                         admits the LB IPs as sources (kube-proxy's allowFromNode)
 */
public record NftOptions(String table, List<Cidr> clusterCidrs, boolean masqueradeAll,
                         List<Cidr> nodePortAddresses, int masqueradeBit, List<Cidr> serviceCidrs,
                         List<InetAddress> nodeIps) {

    public static final String DEFAULT_TABLE = "ferry";
    /** kube-proxy's default masquerade mark bit (1 << 14). */
    public static final int DEFAULT_MASQUERADE_BIT = 0x4000;

    public NftOptions {
        Objects.requireNonNull(table, "table");
        if (!table.matches("[A-Za-z_][A-Za-z0-9_-]{0,63}")) {
            throw new IllegalArgumentException("nftables table name \"" + table + "\" must match [A-Za-z_][A-Za-z0-9_-]*");
        }
        clusterCidrs = List.copyOf(clusterCidrs == null ? List.of() : clusterCidrs);
        nodePortAddresses = List.copyOf(nodePortAddresses == null ? List.of() : nodePortAddresses);
        serviceCidrs = List.copyOf(serviceCidrs == null ? List.of() : serviceCidrs);
        nodeIps = List.copyOf(nodeIps == null ? List.of() : nodeIps);
        if (masqueradeBit == 0 || Integer.bitCount(masqueradeBit) != 1) {
            throw new IllegalArgumentException("masquerade mark must be a single bit, got 0x" + Integer.toHexString(masqueradeBit));
        }
    }

    /** Table "ferry", no cluster CIDR, no masqueradeAll, NodePorts on every local address, mark 0x4000. */
    public static NftOptions defaults() {
        return new NftOptions(DEFAULT_TABLE, List.of(), false, List.of(), DEFAULT_MASQUERADE_BIT, List.of(), List.of());
    }

    public NftOptions withClusterCidrs(List<Cidr> cidrs) {
        return new NftOptions(table, cidrs, masqueradeAll, nodePortAddresses, masqueradeBit, serviceCidrs, nodeIps);
    }

    public NftOptions withMasqueradeAll(boolean all) {
        return new NftOptions(table, clusterCidrs, all, nodePortAddresses, masqueradeBit, serviceCidrs, nodeIps);
    }

    public NftOptions withNodePortAddresses(List<Cidr> cidrs) {
        return new NftOptions(table, clusterCidrs, masqueradeAll, cidrs, masqueradeBit, serviceCidrs, nodeIps);
    }

    public NftOptions withTable(String name) {
        return new NftOptions(name, clusterCidrs, masqueradeAll, nodePortAddresses, masqueradeBit, serviceCidrs, nodeIps);
    }

    public NftOptions withServiceCidrs(List<Cidr> cidrs) {
        return new NftOptions(table, clusterCidrs, masqueradeAll, nodePortAddresses, masqueradeBit, cidrs, nodeIps);
    }

    public NftOptions withNodeIps(List<InetAddress> ips) {
        return new NftOptions(table, clusterCidrs, masqueradeAll, nodePortAddresses, masqueradeBit, serviceCidrs, ips);
    }

    List<Cidr> serviceCidrs(NftFamily f) {
        return serviceCidrs.stream().filter(c -> c.isIpv6() == (f == NftFamily.IPV6)).toList();
    }

    List<InetAddress> nodeIps(NftFamily f) {
        return nodeIps.stream().filter(f::contains).toList();
    }

    List<Cidr> clusterCidrs(NftFamily f) {
        return clusterCidrs.stream().filter(c -> c.isIpv6() == (f == NftFamily.IPV6)).toList();
    }

    List<Cidr> nodePortAddresses(NftFamily f) {
        return nodePortAddresses.stream().filter(c -> c.isIpv6() == (f == NftFamily.IPV6)).toList();
    }
}
