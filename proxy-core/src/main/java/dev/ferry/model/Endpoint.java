package dev.ferry.model;

import java.net.InetAddress;
import java.util.List;
import java.util.Objects;

/**
 * One backend of a service port, from an EndpointSlice: its address, the resolved target port, its
 * conditions and its placement. Immutable. {@code nodeName}, {@code zone} and {@code hostname} are
 * empty strings when absent; {@code forZones} is empty when the slice carries no hints.
 *
 * <p>{@code clusterTraffic} and {@code externalTraffic} are this node's endpoint selection, computed
 * once (ready / terminating fallback, traffic policies, topology) so that every consumer agrees:
 * whether traffic arriving on a ClusterIP frontend, respectively on an external frontend (NodePort,
 * externalIP, LoadBalancer IP), may go to this endpoint. The converter leaves both false; the
 * endpoint selector sets them before the service port is written to the table.
 */
public record Endpoint(InetAddress address, int port, boolean ready, boolean serving, boolean terminating,
                       String nodeName, String zone, List<String> forZones, String hostname,
                       boolean clusterTraffic, boolean externalTraffic) {

    /** An endpoint as converted from the API, before selection (selected for no traffic). */
    public Endpoint(InetAddress address, int port, boolean ready, boolean serving, boolean terminating,
                    String nodeName, String zone, List<String> forZones, String hostname) {
        this(address, port, ready, serving, terminating, nodeName, zone, forZones, hostname, false, false);
    }

    public Endpoint {
        Objects.requireNonNull(address, "address");
        nodeName = nodeName == null ? "" : nodeName;
        zone = zone == null ? "" : zone;
        forZones = forZones == null ? List.of() : List.copyOf(forZones);
        hostname = hostname == null ? "" : hostname;
    }

    /** A copy with this node's selection applied. */
    public Endpoint withSelection(boolean forCluster, boolean forExternal) {
        return new Endpoint(address, port, ready, serving, terminating, nodeName, zone, forZones, hostname,
                forCluster, forExternal);
    }

    /** The "ip:port" form kube-proxy prints, with brackets for IPv6. */
    public String hostPort() {
        return IpAddresses.hostPort(address, port);
    }
}
