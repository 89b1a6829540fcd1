package dev.ferry.cli.conformance;

import dev.ferry.model.IpAddresses;
import java.net.InetAddress;

/**
 * The first packet of a new connection, as the rule tracers and the kernel test send it: source,
 * destination, destination port and protocol ("tcp", "udp", "sctp"); fromNode when the node itself
 * opens the connection (it then traverses OUTPUT instead of PREROUTING).
 */
record Packet(InetAddress src, InetAddress dst, int dport, String proto, boolean fromNode) {
    static Packet of(String src, String dst, int dport, String proto, boolean fromNode) {
        return new Packet(IpAddresses.parse(src), IpAddresses.parse(dst), dport, proto, fromNode);
    }

    boolean v6() {
        return dst.getAddress().length == 16;
    }

    @Override
    public String toString() {
        return (fromNode ? "node " : "") + IpAddresses.format(src) + " -> " + IpAddresses.hostPort(dst, dport) + "/" + proto;
    }
}
