package dev.ferry.model;

import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * What kube-proxy calls a ServicePort: one port of one Service with everything needed to serve it —
 * frontends, policies and the endpoints from all of the service's EndpointSlices. Immutable; built
 * by the converter on the cold path (per API event) and written into the off-heap ServiceTable.
 *
 * <p>A headless or ExternalName service without ports is kept as one entry with port 0 and an empty
 * port name, so that DNS still answers for it; it has no frontends.
 *
 * <p>Integers that the API leaves unset are 0 ({@code nodePort}, {@code healthCheckNodePort});
 * strings that it leaves unset are empty.
 */
public record ServicePort(
        ServicePortName name,
        ServiceType type,
        boolean headless,
        String externalName,
        List<InetAddress> clusterIPs,
        int port,
        String targetPort,
        int nodePort,
        List<InetAddress> externalIPs,
        List<InetAddress> loadBalancerIPs,
        SessionAffinity sessionAffinity,
        int affinityTimeoutSeconds,
        TrafficPolicy externalTrafficPolicy,
        TrafficPolicy internalTrafficPolicy,
        List<Cidr> loadBalancerSourceRanges,
        int healthCheckNodePort,
        String trafficDistribution,
        boolean publishNotReadyAddresses,
        String lbAlgorithm,
        boolean proxyProtocol,
        List<Endpoint> endpoints) {

    /** Annotation choosing the backend selection algorithm for a service (IPVS scheduler names). */
    public static final String LB_ALGORITHM_ANNOTATION = "ferry.dev/lb-algorithm";
    /** Annotation asking for a PROXY protocol v2 header towards backends ("true"/"v2"). */
    public static final String PROXY_PROTOCOL_ANNOTATION = "ferry.dev/proxy-protocol";

    public ServicePort {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(type, "type");
        externalName = externalName == null ? "" : externalName;
        clusterIPs = List.copyOf(clusterIPs == null ? List.of() : clusterIPs);
        targetPort = targetPort == null ? "" : targetPort;
        externalIPs = List.copyOf(externalIPs == null ? List.of() : externalIPs);
        loadBalancerIPs = List.copyOf(loadBalancerIPs == null ? List.of() : loadBalancerIPs);
        sessionAffinity = sessionAffinity == null ? SessionAffinity.NONE : sessionAffinity;
        externalTrafficPolicy = externalTrafficPolicy == null ? TrafficPolicy.CLUSTER : externalTrafficPolicy;
        internalTrafficPolicy = internalTrafficPolicy == null ? TrafficPolicy.CLUSTER : internalTrafficPolicy;
        loadBalancerSourceRanges = List.copyOf(loadBalancerSourceRanges == null ? List.of() : loadBalancerSourceRanges);
        trafficDistribution = trafficDistribution == null ? "" : trafficDistribution;
        lbAlgorithm = lbAlgorithm == null ? "" : lbAlgorithm;
        endpoints = List.copyOf(endpoints == null ? List.of() : endpoints);
    }

    /**
     * Every frontend in a fixed order: cluster IPs, the node port, external IPs, load-balancer IPs.
     * Headless and ExternalName services have none (they live in DNS only).
     */
    public List<Frontend> frontends() {
        List<Frontend> out = new ArrayList<>();
        if (headless || type == ServiceType.EXTERNAL_NAME) {
            return out;
        }
        for (InetAddress ip : clusterIPs) {
            out.add(new Frontend(FrontendKind.CLUSTER_IP, ip, port));
        }
        if (nodePort != 0) {
            out.add(new Frontend(FrontendKind.NODE_PORT, null, nodePort));
        }
        for (InetAddress ip : externalIPs) {
            out.add(new Frontend(FrontendKind.EXTERNAL_IP, ip, port));
        }
        for (InetAddress ip : loadBalancerIPs) {
            out.add(new Frontend(FrontendKind.LOAD_BALANCER, ip, port));
        }
        return out;
    }

    /** A copy with other endpoints (the change tracker and tests use this). */
    public ServicePort withEndpoints(List<Endpoint> newEndpoints) {
        return new ServicePort(name, type, headless, externalName, clusterIPs, port, targetPort, nodePort, externalIPs,
                loadBalancerIPs, sessionAffinity, affinityTimeoutSeconds, externalTrafficPolicy, internalTrafficPolicy,
                loadBalancerSourceRanges, healthCheckNodePort, trafficDistribution, publishNotReadyAddresses,
                lbAlgorithm, proxyProtocol, newEndpoints);
    }
}
