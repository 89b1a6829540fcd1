package dev.ferry.rules.nft;

import dev.ferry.model.Cidr;
import dev.ferry.model.Endpoint;
import dev.ferry.model.IpAddresses;
import dev.ferry.model.ServicePort;
import dev.ferry.model.ServiceType;
import dev.ferry.model.SessionAffinity;
import dev.ferry.model.TrafficPolicy;
import dev.ferry.select.TrafficVerdicts;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Renders one service port into {@link ServiceRules} for one family, following kube-proxy's
 * nftables mode for the shared maps ({@code service-ips}, {@code service-nodeports},
 * {@code no-endpoint-*}, {@code firewall-ips}). Most services get no chain of their own: their map
 * entries jump to the shared {@link PickChains}, which DNAT through the service's entries in the
 * endpoint maps, so an endpoint change is only element updates. Services with ClientIP affinity, or
 * whose external traffic goes to other endpoints than their cluster traffic (externalTrafficPolicy
 * or internalTrafficPolicy Local), keep kube-proxy's chain shapes: {@code service-*} dispatches
 * ClusterIP traffic, {@code external-*} handles NodePort / externalIP / LB traffic (masquerade,
 * Local short-circuits), {@code local-*} dispatches over the external endpoint set; there the
 * endpoint is chosen by a per-connection hash (see {@link #dispatch}), with hairpin masquerade and
 * affinity-set updates inline. {@code firewall-*} enforces loadBalancerSourceRanges for both.
 * Endpoint selection is taken from the endpoints' clusterTraffic / externalTraffic flags only.
 * Stateless; thread-safe.
 */
final class ServiceChainRenderer {
    static final String SERVICE_IPS = "service-ips";
    static final String SERVICE_NODEPORTS = "service-nodeports";
    static final String NO_ENDPOINT_SERVICES = "no-endpoint-services";
    static final String NO_ENDPOINT_NODEPORTS = "no-endpoint-nodeports";
    static final String FIREWALL_IPS = "firewall-ips";
    static final String CLUSTER_IPS = "cluster-ips";
    static final String CLUSTER_CIDRS = "cluster-cidrs";
    static final String REJECT_CHAIN = "reject-chain";
    static final String MARK_MASQ = "mark-for-masquerade";

    private ServiceChainRenderer() {}

    /** The service's rules in family f, or null when it has no frontend in that family (or none at all). */
    static ServiceRules render(ServicePort sp, NftFamily f, NftOptions o) {
        if (sp.headless() || sp.type() == ServiceType.EXTERNAL_NAME || sp.port() == 0) {
            return null;
        }
        List<InetAddress> clusterIps = inFamily(sp.clusterIPs(), f);
        List<InetAddress> externalIps = inFamily(sp.externalIPs(), f);
        List<InetAddress> lbIps = inFamily(sp.loadBalancerIPs(), f);
        List<Endpoint> familyEps = sp.endpoints().stream().filter(e -> f.contains(e.address())).toList();
        // A NodePort belongs to the families the service has cluster IPs in (dual-stack = both).
        boolean nodePort = sp.nodePort() != 0 && !clusterIps.isEmpty();
        if (clusterIps.isEmpty() && externalIps.isEmpty() && lbIps.isEmpty()) {
            return null;
        }

        String proto = sp.name().protocol().name().toLowerCase(Locale.ROOT);
        String h = f.header;
        String base = ChainNames.base(sp.name());
        String svcChain = ChainNames.service(base);
        String extChain = ChainNames.external(base);
        String localChain = ChainNames.local(base);
        String fwChain = ChainNames.firewall(base);
        String seed = "0x" + ChainNames.seed(base);

        List<Endpoint> clusterEps = familyEps.stream().filter(Endpoint::clusterTraffic).toList();
        List<Endpoint> externalEps = familyEps.stream().filter(Endpoint::externalTraffic).toList();
        boolean anyUsable = !clusterEps.isEmpty() || !externalEps.isEmpty() || TrafficVerdicts.anyUsable(familyEps);
        boolean hasExternalFrontends = nodePort || !externalIps.isEmpty() || !lbIps.isEmpty();
        boolean affinity = sp.sessionAffinity() == SessionAffinity.CLIENT_IP;
        int timeout = sp.affinityTimeoutSeconds() > 0 ? sp.affinityTimeoutSeconds() : SessionAffinity.DEFAULT_TIMEOUT_SECONDS;

        Map<String, List<String>> chains = new LinkedHashMap<>();
        Map<String, String> sets = new LinkedHashMap<>();
        List<ServiceRules.Element> elements = new ArrayList<>();
        List<String> picks = new ArrayList<>();

        // Most services need no chain of their own: their traffic goes through the shared pick chains.
        // Affinity (per-endpoint sets), and external traffic kept on other endpoints than cluster
        // traffic (externalTrafficPolicy Local, or internalTrafficPolicy Local), keep service chains.
        List<InetAddress> extIps = new ArrayList<>(externalIps);
        extIps.addAll(lbIps);
        if (!clusterEps.isEmpty() && PickChains.carry(affinity, hasExternalFrontends, sp.externalTrafficPolicy(),
                externalEps.equals(clusterEps))) {
            int n = clusterEps.size();
            for (InetAddress ip : clusterIps) {
                String key = frontendKey(ip, proto, sp.port());
                elements.add(new ServiceRules.Element(CLUSTER_IPS, addr(ip), null));
                elements.add(new ServiceRules.Element(SERVICE_IPS, key, "goto " + pick(picks, PickChains.Kind.CLUSTER, n)));
                endpointElements(elements, PickChains.serviceEndpoints(proto), key, clusterEps);
                for (String epIp : clusterEps.stream().map(e -> addr(e.address())).distinct().toList()) {
                    elements.add(new ServiceRules.Element(PickChains.SERVICE_HAIRPIN,
                            epIp + " . " + epIp + " . " + key, null));
                }
            }
            for (InetAddress ip : extIps) {
                String key = frontendKey(ip, proto, sp.port());
                elements.add(new ServiceRules.Element(SERVICE_IPS, key, "goto " + pick(picks, PickChains.Kind.EXTERNAL, n)));
                endpointElements(elements, PickChains.serviceEndpoints(proto), key, clusterEps);
            }
            if (nodePort) {
                String key = proto + " . " + sp.nodePort();
                elements.add(new ServiceRules.Element(SERVICE_NODEPORTS, key, "goto " + pick(picks, PickChains.Kind.NODEPORT, n)));
                endpointElements(elements, PickChains.nodePortEndpoints(proto), key, clusterEps);
            }
            firewall(sp, f, o, lbIps, proto, fwChain, chains, elements);
            return new ServiceRules(sp.name(), chains, sets, elements, picks);
        }

        // Cluster traffic.
        if (!clusterEps.isEmpty()) {
            List<String> rules = new ArrayList<>();
            List<Cidr> cidrs = o.clusterCidrs(f);
            for (InetAddress ip : clusterIps) {
                String match = h + " daddr " + addr(ip) + " " + proto + " dport " + sp.port();
                if (o.masqueradeAll()) {
                    rules.add(match + " jump " + MARK_MASQ);
                } else if (!cidrs.isEmpty()) {
                    rules.add(match + " " + h + " saddr != " + cidrMatch(cidrs) + " jump " + MARK_MASQ);
                }
            }
            dispatch(rules, clusterEps, base, affinity, f, proto, seed, sets, timeout);
            chains.put(svcChain, rules);
        }
        for (InetAddress ip : clusterIps) {
            String key = frontendKey(ip, proto, sp.port());
            elements.add(new ServiceRules.Element(CLUSTER_IPS, addr(ip), null));
            elements.add(clusterEps.isEmpty()
                    ? new ServiceRules.Element(NO_ENDPOINT_SERVICES, key, verdict(TrafficVerdicts.whenNoEndpoint(anyUsable, false)))
                    : new ServiceRules.Element(SERVICE_IPS, key, "goto " + svcChain));
        }

        // External traffic.
        if (hasExternalFrontends) {
            boolean local = sp.externalTrafficPolicy() == TrafficPolicy.LOCAL;
            // As kube-proxy: under externalTrafficPolicy Local the external chain is used even without a
            // local endpoint, so that pods and the node itself still reach the cluster endpoints; traffic
            // from elsewhere falls off its end and the no-endpoint maps drop it.
            boolean extChainUsed = !externalEps.isEmpty() || (local && anyUsable && !clusterEps.isEmpty());
            if (extChainUsed) {
                boolean sameSet = externalEps.equals(clusterEps);
                String target = sameSet ? svcChain : localChain;
                if (!sameSet && !externalEps.isEmpty()) {
                    List<String> rules = new ArrayList<>();
                    dispatch(rules, externalEps, base, affinity, f, proto, seed, sets, timeout);
                    chains.put(localChain, rules);
                }
                List<String> ext = new ArrayList<>();
                if (local) {
                    // Pods and the node itself reach the service through the cluster endpoints, as
                    // kube-proxy does: only traffic from outside is kept on this node's endpoints.
                    List<Cidr> cidrs = o.clusterCidrs(f);
                    if (!clusterEps.isEmpty() && !cidrs.isEmpty()) {
                        ext.add(h + " saddr " + cidrMatch(cidrs) + " goto " + svcChain);
                    }
                    ext.add("fib saddr type local jump " + MARK_MASQ);
                    if (!clusterEps.isEmpty()) {
                        ext.add("fib saddr type local goto " + svcChain);
                    }
                } else {
                    ext.add("jump " + MARK_MASQ);
                }
                if (!externalEps.isEmpty()) {
                    ext.add("goto " + target);
                }
                chains.put(extChain, ext);
            }
            // kube-proxy: no endpoints at all → reject; endpoints but none for external traffic → drop.
            String none = verdict(TrafficVerdicts.whenNoEndpoint(anyUsable, false));
            for (InetAddress ip : extIps) {
                String key = frontendKey(ip, proto, sp.port());
                if (extChainUsed) {
                    elements.add(new ServiceRules.Element(SERVICE_IPS, key, "goto " + extChain));
                }
                if (externalEps.isEmpty()) {
                    elements.add(new ServiceRules.Element(NO_ENDPOINT_SERVICES, key, none));
                }
            }
            if (nodePort) {
                String key = proto + " . " + sp.nodePort();
                if (extChainUsed) {
                    elements.add(new ServiceRules.Element(SERVICE_NODEPORTS, key, "goto " + extChain));
                }
                if (externalEps.isEmpty()) {
                    elements.add(new ServiceRules.Element(NO_ENDPOINT_NODEPORTS, key, none));
                }
            }
            firewall(sp, f, o, lbIps, proto, fwChain, chains, elements);
        }

        return new ServiceRules(sp.name(), chains, sets, elements, picks);
    }

    /** loadBalancerSourceRanges: the firewall chain and its firewall-ips entries. */
    private static void firewall(ServicePort sp, NftFamily f, NftOptions o, List<InetAddress> lbIps, String proto,
                                 String fwChain, Map<String, List<String>> chains, List<ServiceRules.Element> elements) {
        if (lbIps.isEmpty() || sp.loadBalancerSourceRanges().isEmpty()) {
            return;
        }
        List<Cidr> ranges = sp.loadBalancerSourceRanges().stream()
                .filter(c -> c.isIpv6() == (f == NftFamily.IPV6)).toList();
        List<String> allowed = new ArrayList<>();
        ranges.forEach(c -> allowed.add(c.toString()));
        if (TrafficVerdicts.allowsFromNode(ranges, o.nodeIps(f))) {
            // a VIP the node holds locally makes the node's own connections leave with it as source
            lbIps.forEach(ip -> allowed.add(addr(ip)));
        }
        // Ranges only of the other family allow nobody of this one.
        chains.put(fwChain, List.of(allowed.isEmpty() ? "drop"
                : f.header + " saddr != " + (allowed.size() == 1 ? allowed.get(0) : "{ " + String.join(", ", allowed) + " }") + " drop"));
        for (InetAddress ip : lbIps) {
            elements.add(new ServiceRules.Element(FIREWALL_IPS,
                    frontendKey(ip, proto, sp.port()), "goto " + fwChain));
        }
    }

    /** The no-endpoint map verdict of a block decision. */
    static String verdict(TrafficVerdicts.Block b) {
        return b == TrafficVerdicts.Block.DROP ? "drop" : "goto " + REJECT_CHAIN;
    }

    private static String pick(List<String> picks, PickChains.Kind kind, int n) {
        String name = PickChains.name(kind, n);
        if (!picks.contains(name)) {
            picks.add(name);
        }
        return name;
    }

    /** Entry i of the frontend key → endpoint i, the index pick chains draw with numgen. */
    private static void endpointElements(List<ServiceRules.Element> elements, String map, String key, List<Endpoint> eps) {
        for (int i = 0; i < eps.size(); i++) {
            Endpoint e = eps.get(i);
            elements.add(new ServiceRules.Element(map, key + " . " + i, addr(e.address()) + " . " + e.port()));
        }
    }

    /**
     * DNAT to one of eps. The choice is {@code jhash saddr . sport mod n}, evaluated by every rule
     * of the cascade and equal in all of them for one packet, so each endpoint needs no chain of its
     * own: nft's start-up cache dump and the kernel's per-transaction work grow with the number of
     * chains, and anonymous vmaps ({@code numgen ... vmap { }}) make the kernel's batch processing
     * quadratic in the number of services (measured: 88 s vs 7 s for 10 000 services).
     */
    private static void dispatch(List<String> rules, List<Endpoint> eps, String base, boolean affinity, NftFamily f,
                                 String proto, String seed, Map<String, String> sets, int timeout) {
        String h = f.header;
        int n = eps.size();
        if (affinity) {
            for (Endpoint e : eps) {
                String set = ChainNames.affinity(base, e);
                sets.put(set, "{ type " + f.addrType + " ; flags dynamic,timeout ; timeout " + timeout + "s ; }");
                rules.add(h + " saddr @" + set + " " + h + " saddr " + addr(e.address()) + " jump " + MARK_MASQ);
                rules.add(h + " saddr @" + set + " update @" + set + " { " + h + " saddr } meta l4proto " + proto
                        + " dnat to " + e.hostPort());
            }
        }
        for (int i = 0; i < n; i++) {
            Endpoint e = eps.get(i);
            String pick = n == 1 ? "" : "jhash " + h + " saddr . th sport mod " + n + " seed " + seed + " == " + i + " ";
            String update = affinity ? "update @" + ChainNames.affinity(base, e) + " { " + h + " saddr } " : "";
            // hairpin: a pod reaching itself through the service must be masqueraded to get the reply
            rules.add(pick + h + " saddr " + addr(e.address()) + " jump " + MARK_MASQ);
            rules.add(pick + update + "meta l4proto " + proto + " dnat to " + e.hostPort());
        }
    }

    private static List<InetAddress> inFamily(List<InetAddress> ips, NftFamily f) {
        return ips.stream().filter(f::contains).distinct().toList();
    }

    /** A frontend's key in the address-keyed maps: "10.96.0.10 . udp . 53". */
    private static String frontendKey(InetAddress ip, String proto, int port) {
        return addr(ip) + " . " + proto + " . " + port;
    }

    static String addr(InetAddress a) {
        return IpAddresses.format(a);
    }

    /** One cluster CIDR inline; several through the skeleton's named interval set (no anonymous set per rule). */
    static String cidrMatch(List<Cidr> cidrs) {
        return cidrs.size() == 1 ? cidrs.get(0).toString() : "@" + CLUSTER_CIDRS;
    }

    static String cidrSet(List<Cidr> cidrs) {
        if (cidrs.size() == 1) {
            return cidrs.get(0).toString();
        }
        StringBuilder sb = new StringBuilder("{ ");
        for (int i = 0; i < cidrs.size(); i++) {
            sb.append(i > 0 ? ", " : "").append(cidrs.get(i));
        }
        return sb.append(" }").toString();
    }
}
