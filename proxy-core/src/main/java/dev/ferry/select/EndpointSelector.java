package dev.ferry.select;

import dev.ferry.model.Endpoint;
import dev.ferry.model.ServicePort;
import dev.ferry.model.TrafficPolicy;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

/**
 * Decides, once per service port and node, which endpoints may receive traffic that arrived on a
 * ClusterIP frontend and which may receive traffic from an external frontend (NodePort, externalIP,
 * LoadBalancer IP), following kube-proxy's CategorizeEndpoints so that the proxy, the kernel rules
 * and `ferry explain` all agree:
 * <ul>
 *   <li>cluster endpoints: the ready ones, narrowed by topology (EndpointSlice hints for this node's
 *       zone) when every ready endpoint carries hints and one of them is for this zone; if none is ready anywhere, the serving-and-terminating ones;</li>
 *   <li>local endpoints: this node's ready ones; if none, this node's serving-and-terminating ones;</li>
 *   <li>internalTrafficPolicy Local uses local endpoints for ClusterIP traffic, Cluster the cluster
 *       endpoints; externalTrafficPolicy likewise for external traffic (and only when the service is
 *       externally reachable at all).</li>
 * </ul>
 * Pure and stateless: safe from any thread.
 */
public final class EndpointSelector {
    /** trafficDistribution values that ask for same-zone routing. */
    private static final List<String> PREFER_CLOSE = List.of("PreferClose", "PreferSameZone");

    /** Whether a service's trafficDistribution asks for topology-aware (same-zone) routing. */
    public static boolean asksForTopology(String trafficDistribution) {
        return PREFER_CLOSE.contains(trafficDistribution);
    }

    private EndpointSelector() {}

    public static List<ServicePort> selectAll(Collection<ServicePort> ports, NodeInfo node) {
        List<ServicePort> out = new ArrayList<>(ports.size());
        for (ServicePort sp : ports) {
            out.add(select(sp, node));
        }
        return out;
    }

    /** A copy of sp whose endpoints carry this node's selection flags. */
    public static ServicePort select(ServicePort sp, NodeInfo node) {
        List<Endpoint> eps = sp.endpoints();
        int n = eps.size();
        boolean externallyReachable = sp.nodePort() != 0 || !sp.externalIPs().isEmpty() || !sp.loadBalancerIPs().isEmpty();
        boolean internalLocal = sp.internalTrafficPolicy() == TrafficPolicy.LOCAL;
        boolean externalLocal = externallyReachable && sp.externalTrafficPolicy() == TrafficPolicy.LOCAL;

        boolean[] cluster = clusterEndpoints(sp, node);
        boolean[] local = localEndpoints(eps, node);

        List<Endpoint> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            boolean forCluster = internalLocal ? local[i] : cluster[i];
            boolean forExternal = externallyReachable && (externalLocal ? local[i] : cluster[i]);
            out.add(eps.get(i).withSelection(forCluster, forExternal));
        }
        return sp.withEndpoints(out);
    }

    private static boolean[] clusterEndpoints(ServicePort sp, NodeInfo node) {
        List<Endpoint> eps = sp.endpoints();
        boolean[] chosen = new boolean[eps.size()];
        boolean topology = canUseTopology(sp, node);
        boolean any = false;
        for (int i = 0; i < chosen.length; i++) {
            Endpoint e = eps.get(i);
            chosen[i] = e.ready() && (!topology || e.forZones().contains(node.zone()));
            any |= chosen[i];
        }
        if (!any) {
            // No ready endpoint anywhere (topology never empties the set: it is off without a match),
            // so fall back to endpoints that still serve while terminating, as kube-proxy does.
            for (int i = 0; i < chosen.length; i++) {
                Endpoint e = eps.get(i);
                chosen[i] = e.serving() && e.terminating();
            }
        }
        return chosen;
    }

    private static boolean[] localEndpoints(List<Endpoint> eps, NodeInfo node) {
        boolean[] chosen = new boolean[eps.size()];
        boolean anyReady = false;
        for (int i = 0; i < chosen.length; i++) {
            Endpoint e = eps.get(i);
            chosen[i] = isLocal(e, node) && e.ready();
            anyReady |= chosen[i];
        }
        if (!anyReady) {
            for (int i = 0; i < chosen.length; i++) {
                Endpoint e = eps.get(i);
                chosen[i] = isLocal(e, node) && e.serving() && e.terminating();
            }
        }
        return chosen;
    }

    private static boolean isLocal(Endpoint e, NodeInfo node) {
        return !node.name().isEmpty() && node.name().equals(e.nodeName());
    }

    /**
     * Topology applies, as in kube-proxy 1.32 with its default feature gates, when this node has a
     * zone, every ready endpoint has zone hints, and at least one ready endpoint is hinted for this
     * zone — otherwise all endpoints are used (a partial rollout of hints must not black-hole a zone).
     * The service's trafficDistribution and topology annotations are not consulted: they tell the
     * EndpointSlice controller to write hints, and kube-proxy follows whatever hints the slices carry.
     */
    public static boolean canUseTopology(ServicePort sp, NodeInfo node) {
        if (node.zone().isEmpty()) {
            return false;
        }
        boolean forThisZone = false;
        for (Endpoint e : sp.endpoints()) {
            if (!e.ready()) {
                continue;
            }
            if (e.forZones().isEmpty()) {
                return false;
            }
            forThisZone |= e.forZones().contains(node.zone());
        }
        return forThisZone;
    }
}
