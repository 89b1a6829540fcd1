package dev.ferry.cli.daemon;

import dev.ferry.model.Cidr;
import java.net.InetAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node addresses kube-proxy's {@code nodePortAddresses} selects, for servers that listen on
 * node ports (the service health checks): none given means every address (an empty list, which the
 * servers take as 0.0.0.0 and ::); CIDRs select this host's interface addresses inside them (null
 * when none matches: serve nowhere). The
 * word {@code primary} (the Node's own IPs) is not narrowed in this build: it means every address,
 * with a warning. Stateless.
 */
public final class NodePortAddresses {
    private static final Logger LOG = LoggerFactory.getLogger(NodePortAddresses.class);

    private NodePortAddresses() {}

    /** The addresses to bind: empty = every address, null = none. */
    public static List<InetAddress> bindAddresses(List<String> nodePortAddresses) {
        if (nodePortAddresses.isEmpty()) {
            return List.of();
        }
        if (nodePortAddresses.contains("primary")) {
            LOG.warn("nodePortAddresses: primary is not narrowed to the node's primary IPs in this build; every address is used");
            return List.of();
        }
        List<Cidr> cidrs = nodePortAddresses.stream().map(Cidr::parse).toList();
        List<InetAddress> out = new ArrayList<>();
        try {
            for (NetworkInterface nic : Collections.list(NetworkInterface.getNetworkInterfaces())) {
                for (InetAddress a : Collections.list(nic.getInetAddresses())) {
                    if (cidrs.stream().anyMatch(c -> c.contains(a)) && !out.contains(a)) {
                        out.add(a);
                    }
                }
            }
        } catch (SocketException e) {
            LOG.warn("nodePortAddresses: cannot list this host's addresses ({}); every address is used", e.toString());
            return List.of();
        }
        if (out.isEmpty()) {
            LOG.warn("nodePortAddresses {}: no address of this host matches; service health checks will not be served",
                    nodePortAddresses);
            return null;
        }
        return List.copyOf(out);
    }
}
