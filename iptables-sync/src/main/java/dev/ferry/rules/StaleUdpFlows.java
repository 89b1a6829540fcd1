package dev.ferry.rules;

import dev.ferry.model.Endpoint;
import dev.ferry.model.Frontend;
import dev.ferry.model.Protocol;
import dev.ferry.model.ServicePort;
import dev.ferry.model.ServicePortName;
import java.io.IOException;
import java.net.InetAddress;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;

/**
 * Removes the kernel conntrack entries that would keep UDP clients on old rules after a rule mode
 * applied new ones, as kube-proxy does: a UDP flow is pinned to the DNAT its first packet got, and
 * a client that keeps sending (DNS resolvers reuse their source port) never gets a fresh decision.
 * Entries go when an endpoint leaves (flows DNATed to it) and when a frontend or NodePort gets its
 * first endpoint (flows that were answered by the reject rule). Compares each call's service ports
 * with the previous call's. Not thread-safe: one sync loop owns an instance.
 */
public final class StaleUdpFlows {
    private final KernelConntrackCleaner conntrack;
    private final boolean ipv4;
    private final boolean ipv6;
    private final Logger log;
    private Map<ServicePortName, ServicePort> lastUdp = Map.of();

    /** conntrack may be null: the state is still followed, nothing is removed. */
    public StaleUdpFlows(KernelConntrackCleaner conntrack, boolean ipv4, boolean ipv6, Logger log) {
        this.conntrack = conntrack;
        this.ipv4 = ipv4;
        this.ipv6 = ipv6;
        this.log = log;
    }

    /** Call after the kernel accepted rules for exactly these service ports. */
    public void applied(List<ServicePort> ports) {
        Map<ServicePortName, ServicePort> udp = new HashMap<>();
        for (ServicePort sp : ports) {
            if (sp.name().protocol() == Protocol.UDP) {
                udp.put(sp.name(), sp);
            }
        }
        Map<ServicePortName, ServicePort> before = lastUdp;
        lastUdp = udp;
        if (conntrack == null) {
            return;
        }
        try {
            for (ServicePort now : udp.values()) {
                ServicePort old = before.get(now.name());
                if (old != null && old.equals(now)) {
                    continue; // unchanged (the common case: a sync changes few services)
                }
                boolean had = old != null && hasUsable(old);
                if (!had && hasUsable(now)) {
                    for (Frontend f : now.frontends()) {
                        if (!familyEnabled(f.address())) {
                            continue;
                        }
                        if (f.address() == null) {
                            if (ipv4) {
                                conntrack.nodePortGainedEndpoints(f.port(), false);
                            }
                            if (ipv6) {
                                conntrack.nodePortGainedEndpoints(f.port(), true);
                            }
                        } else {
                            conntrack.frontendGainedEndpoints(f.address(), f.port());
                        }
                    }
                }
                if (old != null) {
                    removed(old, usable(now));
                }
            }
            for (ServicePort old : before.values()) {
                if (!udp.containsKey(old.name())) {
                    removed(old, Set.of());
                }
            }
        } catch (IOException e) {
            // The rules are in; stale UDP flows only delay recovery for that flow until it idles out.
            log.warn("removing stale UDP conntrack entries failed: {}", e.getMessage());
        }
    }

    private void removed(ServicePort old, Set<String> stillUsable) throws IOException {
        for (Endpoint e : old.endpoints()) {
            if (!(e.clusterTraffic() || e.externalTraffic()) || stillUsable.contains(e.hostPort())) {
                continue;
            }
            for (Frontend f : old.frontends()) {
                if (f.address() == null) {
                    conntrack.nodePortEndpointRemoved(f.port(), e.address(), e.port());
                } else if (familyEnabled(f.address())
                        && f.address().getAddress().length == e.address().getAddress().length) {
                    conntrack.endpointRemoved(f.address(), f.port(), e.address(), e.port());
                }
            }
        }
    }

    private boolean familyEnabled(InetAddress a) {
        if (a == null) {
            return true;
        }
        return a.getAddress().length == 16 ? ipv6 : ipv4;
    }

    private static boolean hasUsable(ServicePort sp) {
        for (Endpoint e : sp.endpoints()) {
            if (e.clusterTraffic() || e.externalTraffic()) {
                return true;
            }
        }
        return false;
    }

    private static Set<String> usable(ServicePort sp) {
        Set<String> s = new HashSet<>();
        for (Endpoint e : sp.endpoints()) {
            if (e.clusterTraffic() || e.externalTraffic()) {
                s.add(e.hostPort());
            }
        }
        return s;
    }
}
