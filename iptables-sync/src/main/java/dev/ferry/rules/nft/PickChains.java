package dev.ferry.rules.nft;

import dev.ferry.model.Cidr;
import dev.ferry.model.TrafficPolicy;
import java.util.ArrayList;
import java.util.List;

/**
 * The shared chains through which most services reach their endpoints without a chain of their own:
 * {@code pick-cluster-N}, {@code pick-external-N} and {@code pick-nodeport-N} DNAT to entry
 * {@code numgen random mod N} of the service's frontend in the {@code service-endpoints-PROTO} (keyed
 * by destination address, protocol and port) or {@code nodeport-endpoints-PROTO} (protocol and
 * NodePort) map. There is one map per protocol because nft 1.0.6 makes a DNAT through a map match
 * only the protocol that the map's port type names (see {@link #serviceEndpointsDeclaration}).
 * One chain per kind and endpoint count serves every service, so the number of chains no longer
 * grows with the number of services: nft 1.0.6 dumps every chain of the ruleset before any
 * {@code add element} or {@code add rule}, which cost 26 ms per transaction at 10 000 services
 * (120 ms at 30 000) with a chain per service. An endpoint change is then a few element updates.
 *
 * <p>Hairpin traffic (a pod reaching itself through its service) is masqueraded in
 * {@code masquerading} from the {@code service-hairpin} set, keyed by source, destination after DNAT
 * and the original frontend, because the endpoint a pick chain chose is only known after the DNAT.
 * Stateless; thread-safe.
 */
public final class PickChains {
    static final String SERVICE_HAIRPIN = "service-hairpin";
    /** The protocols a service port can have, as nft spells them. */
    static final List<String> PROTOCOLS = List.of("tcp", "udp", "sctp");
    private static final String PREFIX = "pick-";

    /** Which traffic a pick chain handles: it decides the masquerading and the map it looks in. */
    enum Kind {
        CLUSTER("cluster"), EXTERNAL("external"), NODEPORT("nodeport");

        private final String label;

        Kind(String label) {
            this.label = label;
        }
    }

    private PickChains() {}

    static String name(Kind kind, int endpoints) {
        return PREFIX + kind.label + "-" + endpoints;
    }

    /**
     * Whether a service port with endpoints reaches them through the pick chains rather than chains
     * of its own: not with ClientIP affinity (its per-endpoint sets need rules), and, when it has
     * external frontends (NodePort, external or LB IPs), only with externalTrafficPolicy Cluster and
     * external traffic going to the same endpoints as cluster traffic (one map entry set serves both).
     * The renderer decides by it, and {@code ferry explain} describes the path by it.
     */
    public static boolean carry(boolean clientIpAffinity, boolean hasExternalFrontends, TrafficPolicy externalTrafficPolicy,
                                boolean externalUsesClusterEndpoints) {
        return !clientIpAffinity && (!hasExternalFrontends
                || (externalTrafficPolicy == TrafficPolicy.CLUSTER && externalUsesClusterEndpoints));
    }

    /** The map of ClusterIP / external IP / LB IP entries of a protocol ("tcp", "udp", "sctp"). */
    static String serviceEndpoints(String proto) {
        return "service-endpoints-" + proto;
    }

    /** The map of NodePort entries of a protocol. */
    static String nodePortEndpoints(String proto) {
        return "nodeport-endpoints-" + proto;
    }

    /** Every endpoint map of the table. */
    static List<String> endpointMaps() {
        List<String> out = new ArrayList<>(6);
        for (String p : PROTOCOLS) {
            out.add(serviceEndpoints(p));
            out.add(nodePortEndpoints(p));
        }
        return out;
    }

    /** The rules of the pick chain called name (as made by {@link #name}) in family f. */
    static List<String> rules(String name, NftFamily f, NftOptions o) {
        int dash = name.lastIndexOf('-');
        String label = name.substring(PREFIX.length(), dash);
        int n = Integer.parseInt(name.substring(dash + 1));
        String h = f.header;
        String numgen = "numgen random mod " + n;
        List<String> rules = new ArrayList<>(4);
        if (label.equals(Kind.NODEPORT.label)) {
            rules.add("jump " + ServiceChainRenderer.MARK_MASQ);
            for (String p : PROTOCOLS) {
                rules.add("dnat " + h + " to meta l4proto . th dport . " + numgen + " map @" + nodePortEndpoints(p));
            }
            return rules;
        }
        if (label.equals(Kind.EXTERNAL.label)) {
            rules.add("jump " + ServiceChainRenderer.MARK_MASQ);
        } else if (o.masqueradeAll()) {
            rules.add("jump " + ServiceChainRenderer.MARK_MASQ);
        } else {
            List<Cidr> cidrs = o.clusterCidrs(f);
            if (!cidrs.isEmpty()) {
                rules.add(h + " saddr != " + ServiceChainRenderer.cidrMatch(cidrs) + " jump " + ServiceChainRenderer.MARK_MASQ);
            }
        }
        for (String p : PROTOCOLS) {
            rules.add("dnat " + h + " to " + h + " daddr . meta l4proto . th dport . " + numgen + " map @" + serviceEndpoints(p));
        }
        return rules;
    }

    /**
     * Map declarations. The data side names the protocol's port ({@code udp dport}), and nft 1.0.6
     * then adds a match on that protocol to every DNAT through the map, hence a map per protocol.
     * The protocol-neutral {@code th dport} cannot be used there: nft 1.0.6 cannot re-read it from
     * the kernel and then refuses any later rule that uses the map.
     */
    static String serviceEndpointsDeclaration(NftFamily f, String proto) {
        String h = f.header;
        return "{ typeof " + h + " daddr . meta l4proto . th dport . numgen random mod 1 : " + h + " daddr . " + proto + " dport ; }";
    }

    static String nodePortEndpointsDeclaration(NftFamily f, String proto) {
        return "{ typeof meta l4proto . th dport . numgen random mod 1 : " + f.header + " daddr . " + proto + " dport ; }";
    }

    static String hairpinDeclaration(NftFamily f) {
        String a = f.addrType;
        return "{ type " + a + " . " + a + " . " + a + " . inet_proto . inet_service ; }";
    }

    /**
     * The masquerading chain's hairpin rules, one per protocol: {@code ct original proto-dst} has no
     * type until a protocol match gives it one.
     */
    static List<String> hairpinRules(NftFamily f) {
        String h = f.header;
        List<String> rules = new ArrayList<>(3);
        for (String proto : List.of("tcp", "udp", "sctp")) {
            rules.add("meta l4proto " + proto + " " + h + " saddr . " + h + " daddr . ct original " + h + " daddr . meta l4proto"
                    + " . ct original proto-dst @" + SERVICE_HAIRPIN + " jump " + ServiceChainRenderer.MARK_MASQ);
        }
        return rules;
    }
}
