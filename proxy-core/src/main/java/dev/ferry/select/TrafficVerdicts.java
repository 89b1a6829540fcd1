package dev.ferry.select;

import dev.ferry.model.Cidr;
import dev.ferry.model.Endpoint;
import dev.ferry.model.FrontendKind;
import dev.ferry.model.TrafficPolicy;
import java.net.InetAddress;
import java.util.List;

/**
 * kube-proxy's per-connection decisions that do not depend on how they are enforced, in one place:
 * the iptables and nftables renderers build their rules from these, the userspace proxy acts on
 * them, and {@code ferry explain} answers with them, so the three cannot drift apart. Every method
 * is pure; safe from any thread.
 */
public final class TrafficVerdicts {
    private TrafficVerdicts() {}

    /** What happens to a new connection that no endpoint will serve. */
    public enum Block {
        /** Some endpoint serves it. */
        NONE,
        /** The service has no usable endpoint anywhere: refused at once (ICMP port unreachable / TCP RST). */
        REJECT,
        /**
         * The service has usable endpoints, but none for this traffic on this node (a Local traffic
         * policy without a local endpoint): silently dropped, so clients time out (and a load
         * balancer's health check has already steered them elsewhere).
         */
        DROP
    }

    /** Where a connection comes from, as the rules can tell it apart. */
    public enum Source {
        /** An address inside the cluster (pod) CIDR: kube-proxy's "local" detector. */
        POD,
        /** One of this node's own addresses (the host network namespace). */
        NODE,
        /** Anything else: another node, a load balancer, a client outside the cluster. */
        OTHER
    }

    /** Which of the service port's endpoint sets serves a connection. */
    public enum EndpointSet { CLUSTER_TRAFFIC, EXTERNAL_TRAFFIC }

    /** An endpoint is usable at all when it is ready, or still serving while it terminates (kube-proxy's fallback). */
    public static boolean usable(Endpoint e) {
        return e.ready() || (e.serving() && e.terminating());
    }

    /** kube-proxy's hasAnyEndpoints: some endpoint of the service port (anywhere in the cluster) is usable. */
    public static boolean anyUsable(List<Endpoint> endpoints) {
        for (Endpoint e : endpoints) {
            if (usable(e)) return true;
        }
        return false;
    }

    /**
     * The filter verdict for traffic whose endpoint set is empty or not: REJECT when the service has no
     * usable endpoint at all, DROP when it has some but none serves this traffic, NONE otherwise.
     */
    public static Block whenNoEndpoint(boolean anyUsableAnywhere, boolean anyForThisTraffic) {
        if (anyForThisTraffic) return Block.NONE;
        return anyUsableAnywhere ? Block.DROP : Block.REJECT;
    }

    /**
     * Which endpoint set a connection to an external frontend (NodePort, externalIP, LB IP) uses.
     * Under externalTrafficPolicy Local, kube-proxy treats a pod's (when the pod CIDR is known) and the
     * node's own connections as if they had gone out to the load balancer and come back: they are not
     * subject to the Local policy and use the cluster-traffic endpoints; only other sources are kept on
     * this node's endpoints. With Cluster, every source uses the external set (which is then the
     * cluster set).
     */
    public static EndpointSet forExternalFrontend(TrafficPolicy externalPolicy, Source source, boolean podCidrKnown) {
        if (externalPolicy != TrafficPolicy.LOCAL) return EndpointSet.EXTERNAL_TRAFFIC;
        if (source == Source.NODE || (source == Source.POD && podCidrKnown)) return EndpointSet.CLUSTER_TRAFFIC;
        return EndpointSet.EXTERNAL_TRAFFIC;
    }

    /** The endpoint set a connection to a frontend of this kind uses; see {@link #forExternalFrontend}. */
    public static EndpointSet endpointSet(FrontendKind kind, TrafficPolicy externalPolicy, Source source, boolean podCidrKnown) {
        return kind == FrontendKind.CLUSTER_IP ? EndpointSet.CLUSTER_TRAFFIC
                : forExternalFrontend(externalPolicy, source, podCidrKnown);
    }

    /**
     * Whether kube-proxy masquerades (SNATs to the node) a connection: to a ClusterIP with
     * masqueradeAll, or from outside the pod CIDR when it is known; to an external frontend under
     * externalTrafficPolicy Cluster always, under Local only from the node itself (its source would
     * be the LB IP, a local address); and hairpin traffic (an endpoint reaching itself) always.
     * masqueradeAll and podCidrKnown matter for ClusterIP frontends only.
     */
    public static boolean masquerades(FrontendKind kind, TrafficPolicy externalPolicy, Source source, boolean masqueradeAll,
                                      boolean podCidrKnown, boolean hairpin) {
        if (hairpin) return true;
        if (kind == FrontendKind.CLUSTER_IP) {
            return masqueradeAll || (podCidrKnown && source != Source.POD);
        }
        if (externalPolicy != TrafficPolicy.LOCAL) return true;
        // A pod short-circuited to the cluster endpoints keeps its source: the ClusterIP masquerade
        // rules match the ClusterIP as destination, which this connection does not have.
        return source == Source.NODE;
    }

    /**
     * loadBalancerSourceRanges of a load-balancer IP: the client must be in a range, or — when some range
     * covers one of this node's IPs — be one of the service's LB IPs itself, because a VIP the node
     * holds locally makes the node's own connections to it leave with the VIP as source (kube-proxy's
     * allowFromNode). No ranges: everyone.
     */
    public static boolean sourceRangeAllows(List<Cidr> ranges, List<InetAddress> loadBalancerIps,
                                            List<InetAddress> nodeIps, InetAddress client) {
        if (ranges.isEmpty()) return true;
        for (Cidr c : ranges) {
            if (c.contains(client)) return true;
        }
        return allowsFromNode(ranges, nodeIps) && loadBalancerIps.contains(client);
    }

    /** Whether some source range covers one of the node's IPs, so the LB IPs themselves are accepted as sources. */
    public static boolean allowsFromNode(List<Cidr> ranges, List<InetAddress> nodeIps) {
        for (Cidr c : ranges) {
            for (InetAddress ip : nodeIps) {
                if (c.isIpv6() == (ip.getAddress().length == 16) && c.contains(ip)) return true;
            }
        }
        return false;
    }
}
