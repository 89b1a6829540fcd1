package dev.ferry.daemon.plane;

import dev.ferry.model.Cidr;
import dev.ferry.proxy.ServiceInterface;
import java.io.IOException;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * This node's addresses as nodePortAddresses selects them: every local address (loopback's
 * 127.0.0.1 included, link-local IPv6 excluded) when no CIDR is given, else those inside one of the
 * CIDRs. Where the userspace proxy and the health-check servers listen for NodePorts. The
 * addresses on Ferry's own service interface are service addresses, never the node's.
 */
public final class NodeAddresses {
    private NodeAddresses() {}

    /** As {@link #matching(List, String)} with no service interface. */
    public static List<InetAddress> matching(List<Cidr> cidrs) throws SocketException {
        return matching(cidrs, null);
    }

    /**
     * The node's addresses in {@code cidrs}, leaving out the interface named {@code serviceInterface}
     * (may be null). Read with {@code ip -o addr show up}: the JDK's interface walk is quadratic in
     * the number of addresses, seconds when a previous run left thousands of service addresses on the
     * service interface; the JDK walk only where {@code ip} cannot run.
     */
    public static List<InetAddress> matching(List<Cidr> cidrs, String serviceInterface) throws SocketException {
        List<InetAddress> out = new ArrayList<>();
        try {
            for (ServiceInterface.Assigned a : ServiceInterface.addresses(true)) {
                if (!a.link().equals(serviceInterface)) {
                    consider(a.address(), cidrs, out);
                }
            }
            return out;
        } catch (IOException e) {
            out.clear();
        }
        for (NetworkInterface nic : Collections.list(NetworkInterface.getNetworkInterfaces())) {
            if (!nic.isUp() || nic.getName().equals(serviceInterface)) {
                continue;
            }
            for (InetAddress a : Collections.list(nic.getInetAddresses())) {
                if (a instanceof Inet6Address v6 && (v6.isLinkLocalAddress() || v6.getScopeId() != 0)) {
                    continue;
                }
                consider(a, cidrs, out);
            }
        }
        return out;
    }

    private static void consider(InetAddress a, List<Cidr> cidrs, List<InetAddress> out) {
        if (a.isLoopbackAddress() && !(a.getHostAddress().equals("127.0.0.1") || a.getHostAddress().equals("0:0:0:0:0:0:0:1"))) {
            return;
        }
        boolean wanted = cidrs.isEmpty() || cidrs.stream().anyMatch(c -> c.contains(a));
        if (wanted && !out.contains(a)) {
            out.add(a);
        }
    }
}
