package dev.ferry.daemon.plane;

import dev.ferry.model.Cidr;
import dev.ferry.model.IpAddresses;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeAddress;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;

/**
 * This node's primary IPs as kube-proxy determines them, for {@code nodePortAddresses: [primary]}:
 * the configured {@code bindAddress} when it is a specific address, else the Node object's first
 * InternalIP of each family (an ExternalIP when a family has none). At most one per family, the
 * primary family first. Where a family has none kube-proxy assumes loopback; so does {@link #cidrs}.
 */
public final class PrimaryNodeIps {
    private PrimaryNodeIps() {}

    /**
     * Whether NodePorts are limited to the primary IPs: {@code nodePortAddresses: [primary]}, or an
     * empty list in nftables mode (kube-proxy's nftables mode defaults to primary; its other modes to
     * every address).
     */
    public static boolean apply(List<String> nodePortAddresses, boolean nftablesMode) {
        return nodePortAddresses.equals(List.of("primary")) || (nodePortAddresses.isEmpty() && nftablesMode);
    }

    /** The primary IPs from {@code bindAddress} and {@code node} (either may be null); empty when neither names one. */
    public static List<InetAddress> of(InetAddress bindAddress, Node node) {
        List<InetAddress> out = new ArrayList<>();
        if (bindAddress != null && !bindAddress.isAnyLocalAddress()) {
            out.add(bindAddress);
        }
        if (node != null && node.getStatus() != null && node.getStatus().getAddresses() != null) {
            for (String type : List.of("InternalIP", "ExternalIP")) {
                for (NodeAddress a : node.getStatus().getAddresses()) {
                    InetAddress ip = type.equals(a.getType()) ? IpAddresses.parse(a.getAddress()) : null;
                    if (ip != null && out.stream().noneMatch(o -> sameFamily(o, ip))) {
                        out.add(ip);
                    }
                }
            }
        }
        return out;
    }

    /**
     * The single-address CIDRs NodePorts are served on: the primary IP of each family, or that
     * family's loopback address where it has none (kube-proxy's stand-in for an unknown node IP),
     * so that neither family falls back to "every address".
     */
    public static List<Cidr> cidrs(List<InetAddress> primary) {
        InetAddress v4 = IpAddresses.parse("127.0.0.1");
        InetAddress v6 = IpAddresses.parse("::1");
        for (InetAddress a : primary) {
            if (a instanceof Inet4Address) v4 = a; else v6 = a;
        }
        List<Cidr> out = new ArrayList<>();
        for (InetAddress a : primary.isEmpty() || primary.get(0) instanceof Inet4Address ? List.of(v4, v6) : List.of(v6, v4)) {
            out.add(Cidr.parse(IpAddresses.format(a) + (a instanceof Inet4Address ? "/32" : "/128")));
        }
        return out;
    }

    private static boolean sameFamily(InetAddress a, InetAddress b) {
        return (a instanceof Inet4Address) == (b instanceof Inet4Address);
    }
}
