package dev.ferry.select;

import dev.ferry.model.Endpoint;
import dev.ferry.model.FrontendKind;
import dev.ferry.model.ServicePort;
import dev.ferry.model.TrafficPolicy;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;

/**
 * What the kernel rules of a mode do with the first packet of a new connection, decided from the
 * service port (with this node's endpoint selection already applied, see {@link EndpointSelector})
 * and the node's settings with {@link TrafficVerdicts} — the decisions the iptables and nftables
 * renderers encode. {@code ferry explain} answers with it; the conformance tests check that the
 * rendered rules and real packets agree with it. Pure; thread-safe.
 */
public final class FlowDecision {
    private FlowDecision() {}

    /** The rule modes, which differ in a few places (localhost NodePorts, unallocated ClusterIPs). */
    public enum RuleMode { IPTABLES, NFTABLES }

    /** What happens to the connection. */
    public enum Action {
        /** DNAT to one of {@link Decision#endpoints()}. */
        FORWARD,
        /** Refused at once: ICMP port unreachable / TCP RST. */
        REJECT,
        /** Silently dropped: the client times out. */
        DROP,
        /** Not a service destination for this node's rules: routed as any other packet. */
        UNTOUCHED
    }

    /**
     * The outcome. endpoints are the candidates (FORWARD only); masquerade is whether the connection
     * leaves with the node's address as source (hairpin connections, an endpoint reaching itself,
     * are always masqueraded and are not reflected here); why says which rule decided.
     */
    public record Decision(Action action, List<Endpoint> endpoints, boolean masquerade, String why) {
        public Decision {
            endpoints = List.copyOf(endpoints);
        }
    }

    /**
     * Decides a connection from source (sourceIsNode: opened by the node itself) to destination on a
     * frontend of kind of sp; sp null means no service port claims the destination, and then
     * clusterIpInUse says whether the address is some other port's ClusterIP.
     */
    public static Decision decide(RuleMode mode, NodeNetwork node, ServicePort sp, FrontendKind kind,
                                  InetAddress source, boolean sourceIsNode, InetAddress destination,
                                  boolean clusterIpInUse) {
        if (sp == null) {
            if (mode == RuleMode.NFTABLES && clusterIpInUse) {
                return new Decision(Action.REJECT, List.of(), false, "a ClusterIP, but no service port on this port (cluster-ips-check)");
            }
            if (mode == RuleMode.NFTABLES && node.inServiceCidrs(destination)) {
                return new Decision(Action.DROP, List.of(), false, "an unallocated address of the service CIDR (cluster-ips-check)");
            }
            return new Decision(Action.UNTOUCHED, List.of(), false, "no service port serves this destination");
        }
        if (kind == FrontendKind.NODE_PORT) {
            String refused = nodePortAddressRefused(mode, node, destination);
            if (refused != null) {
                return new Decision(Action.UNTOUCHED, List.of(), false, refused);
            }
        }
        boolean v6 = destination.getAddress().length == 16;
        TrafficVerdicts.Source from = node.classify(source, sourceIsNode);
        if (kind == FrontendKind.LOAD_BALANCER && !TrafficVerdicts.sourceRangeAllows(sp.loadBalancerSourceRanges().stream()
                        .filter(c -> c.isIpv6() == v6).toList(), sp.loadBalancerIPs(), node.nodeIps(), source)
                && !sp.loadBalancerSourceRanges().isEmpty()) {
            return new Decision(Action.DROP, List.of(), false, "the source is outside loadBalancerSourceRanges");
        }
        List<Endpoint> family = new ArrayList<>();
        for (Endpoint e : sp.endpoints()) {
            if ((e.address().getAddress().length == 16) == v6) family.add(e);
        }
        List<Endpoint> cluster = family.stream().filter(Endpoint::clusterTraffic).toList();
        List<Endpoint> external = family.stream().filter(Endpoint::externalTraffic).toList();
        boolean anyUsable = !cluster.isEmpty() || !external.isEmpty() || TrafficVerdicts.anyUsable(family);
        boolean podCidrKnown = node.podCidrKnown(destination);
        TrafficVerdicts.EndpointSet set = TrafficVerdicts.endpointSet(kind, sp.externalTrafficPolicy(), from, podCidrKnown);
        List<Endpoint> chosen = set == TrafficVerdicts.EndpointSet.CLUSTER_TRAFFIC ? cluster : external;
        String why;
        if (kind != FrontendKind.CLUSTER_IP && set == TrafficVerdicts.EndpointSet.CLUSTER_TRAFFIC) {
            if (chosen.isEmpty()) {
                // the short-cut to the cluster endpoints exists only when they do: the Local policy applies
                chosen = external;
                why = "externalTrafficPolicy: Local (a " + from.name().toLowerCase() + " source, but no cluster-traffic endpoint)";
            } else {
                why = "externalTrafficPolicy: Local does not apply to " + (from == TrafficVerdicts.Source.NODE
                        ? "the node's own connections" : "pods") + ": they use the cluster-traffic endpoints";
            }
        } else if (kind == FrontendKind.CLUSTER_IP) {
            why = "internalTrafficPolicy: " + sp.internalTrafficPolicy().apiName();
        } else {
            why = "externalTrafficPolicy: " + sp.externalTrafficPolicy().apiName();
        }
        TrafficVerdicts.Block block = TrafficVerdicts.whenNoEndpoint(anyUsable, !chosen.isEmpty());
        boolean nodeToRemoteExternal = from == TrafficVerdicts.Source.NODE && !node.isLocal(destination)
                && (kind == FrontendKind.EXTERNAL_IP || kind == FrontendKind.LOAD_BALANCER);
        if (nodeToRemoteExternal && external.isEmpty() && mode == RuleMode.NFTABLES) {
            // kube-proxy's nftables mode checks no-endpoint-services in filter-output, before the node's
            // own connection is DNAT'd: the Local short-cut never gets a chance
            block = TrafficVerdicts.whenNoEndpoint(anyUsable, false);
            why = "no endpoint for external traffic, and nftables mode checks the node's own connections before the DNAT";
        } else if (nodeToRemoteExternal && block != TrafficVerdicts.Block.NONE && mode == RuleMode.IPTABLES) {
            // iptables mode rejects/drops external destinations in KUBE-EXTERNAL-SERVICES, which only
            // INPUT and FORWARD jump to: the node's own connection to a remote LB/external IP leaves as is
            return new Decision(Action.UNTOUCHED, List.of(), false,
                    "no endpoint for it, and KUBE-EXTERNAL-SERVICES is not on the node's OUTPUT path");
        }
        if (block == TrafficVerdicts.Block.REJECT) {
            return new Decision(Action.REJECT, List.of(), false, "the service has no usable endpoint");
        }
        if (block == TrafficVerdicts.Block.DROP) {
            return new Decision(Action.DROP, List.of(), false, "usable endpoints exist, but none for this traffic on this node ("
                    + why + ")");
        }
        TrafficPolicy etp = sp.externalTrafficPolicy();
        // hairpin (the client is the endpoint) is masqueraded whatever else applies; when only some
        // candidates are the client, the others decide (as the outcome of the other picks)
        boolean hairpin = chosen.stream().allMatch(e -> e.address().equals(source));
        boolean masquerade = TrafficVerdicts.masquerades(kind, etp, from, node.masqueradeAll(), podCidrKnown, hairpin);
        return new Decision(Action.FORWARD, chosen, masquerade, why);
    }

    /** Why a NodePort does not answer on destination in this mode, or null when it does. */
    public static String nodePortAddressRefused(RuleMode mode, NodeNetwork node, InetAddress destination) {
        if (!node.isLocal(destination)) {
            return "not an address of this node";
        }
        if (NodeNetwork.isLoopback(destination)) {
            if (mode == RuleMode.NFTABLES) {
                return "nftables mode does not serve NodePorts on localhost (as kube-proxy's)";
            }
            if (destination.getAddress().length == 16) {
                return "the kernel cannot DNAT IPv6 loopback traffic out of the node";
            }
            if (!node.localhostNodePorts()) {
                return "iptables.localhostNodePorts is false";
            }
            return node.inNodePortAddresses(destination) ? null : "127.0.0.1 is outside nodePortAddresses";
        }
        return node.inNodePortAddresses(destination) ? null : "outside nodePortAddresses " + node.nodePortAddresses();
    }
}
