package dev.ferry.model;

import java.net.InetAddress;
import java.util.List;
import java.util.Objects;

/**
 * One backend of a service port, from an EndpointSlice: its address, the resolved target port, its
 * conditions and its placement. Immutable. {@code nodeName}, {@code zone} and {@code hostname} are
 * empty strings when absent; {@code forZones} is empty when the slice carries no hints.
 */
public record Endpoint(InetAddress address, int port, boolean ready, boolean serving, boolean terminating,
                       String nodeName, String zone, List<String> forZones, String hostname) {

    public Endpoint {
        Objects.requireNonNull(address, "address");
        nodeName = nodeName == null ? "" : nodeName;
        zone = zone == null ? "" : zone;
        forZones = forZones == null ? List.of() : List.copyOf(forZones);
        hostname = hostname == null ? "" : hostname;
    }

    /** The "ip:port" form kube-proxy prints, with brackets for IPv6. */
    public String hostPort() {
        String ip = IpAddresses.format(address);
        return (address.getAddress().length == 16 ? "[" + ip + "]" : ip) + ":" + port;
    }
}
