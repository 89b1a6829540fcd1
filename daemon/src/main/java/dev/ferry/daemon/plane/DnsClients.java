package dev.ferry.daemon.plane;

import dev.ferry.dns.DnsOptions;
import dev.ferry.model.Cidr;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Who may query the DNS responder: the operator's {@code --dns-allow-cidr} list when given, else
 * the cluster CIDRs (the pods) and this node's own addresses (host-network pods, the kubelet) as
 * they are at start; loopback always. Addresses on Ferry's own
 * service interface are service IPs, not node addresses, and are left out.
 */
final class DnsClients {
    private static final Logger LOG = LoggerFactory.getLogger(DnsClients.class);

    private DnsClients() {}

    static List<Cidr> allowed(List<Cidr> flag, List<Cidr> clusterCidrs, String serviceInterface) throws SocketException {
        List<Cidr> out = new ArrayList<>(DnsOptions.LOOPBACK);
        if (!flag.isEmpty()) {
            out.addAll(flag);
            LOG.info("DNS answers clients in {} (--dns-allow-cidr and loopback)", out);
            return out;
        }
        out.addAll(clusterCidrs);
        for (NetworkInterface nic : Collections.list(NetworkInterface.getNetworkInterfaces())) {
            if (!nic.isUp() || nic.getName().equals(serviceInterface)) continue;
            for (InetAddress a : Collections.list(nic.getInetAddresses())) {
                if (a.isLoopbackAddress() || (a instanceof Inet6Address v6 && v6.isLinkLocalAddress())) continue;
                Cidr host = Cidr.parse(a.getHostAddress().replaceFirst("%.*$", ""));
                if (!out.contains(host)) out.add(host);
            }
        }
        if (clusterCidrs.isEmpty()) {
            LOG.warn("DNS answers only this node's addresses and loopback: clusterCIDR is not configured, so pods "
                    + "get REFUSED; set clusterCIDR or --dns-allow-cidr");
        }
        LOG.info("DNS answers clients in {}", out);
        return out;
    }
}
