package dev.ferry.dns;

import dev.ferry.model.Endpoint;
import dev.ferry.model.IpAddresses;
import dev.ferry.model.Protocol;
import dev.ferry.model.ServicePort;
import dev.ferry.model.ServicePortName;
import dev.ferry.model.ServiceType;
import dev.ferry.select.EndpointSelector;
import dev.ferry.select.NodeInfo;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;

/** Service ports for DNS tests, run through this node's endpoint selection as the daemon does. */
final class TestZone {
    static final NodeInfo NODE = new NodeInfo("node-a", "zone-a");

    private TestZone() {}

    static InetAddress ip(String s) {
        InetAddress a = IpAddresses.parse(s);
        if (a == null) throw new IllegalArgumentException(s);
        return a;
    }

    static Endpoint endpoint(String address, int port, boolean ready, String hostname) {
        return new Endpoint(ip(address), port, ready, ready, false, "node-a", "zone-a", List.of(), hostname);
    }

    static ServicePort clusterIp(String ns, String name, String portName, Protocol protocol, int port,
                                 List<String> clusterIps, List<Endpoint> endpoints) {
        List<InetAddress> ips = new ArrayList<>();
        for (String s : clusterIps) ips.add(ip(s));
        return select(new ServicePort(new ServicePortName(ns, name, portName, protocol), ServiceType.CLUSTER_IP, false,
                "", ips, port, Integer.toString(port), 0, List.of(), List.of(), null, 0, null, null, List.of(), 0, "",
                false, "", false, endpoints));
    }

    static ServicePort headless(String ns, String name, String portName, Protocol protocol, int port,
                                boolean publishNotReady, List<Endpoint> endpoints) {
        return select(new ServicePort(new ServicePortName(ns, name, portName, protocol), ServiceType.CLUSTER_IP, true,
                "", List.of(), port, Integer.toString(port), 0, List.of(), List.of(), null, 0, null, null, List.of(), 0,
                "", publishNotReady, "", false, endpoints));
    }

    static ServicePort externalName(String ns, String name, String target) {
        return select(new ServicePort(new ServicePortName(ns, name, "", Protocol.TCP), ServiceType.EXTERNAL_NAME, false,
                target, List.of(), 0, "", 0, List.of(), List.of(), null, 0, null, null, List.of(), 0, "", false, "",
                false, List.of()));
    }

    /** A headless service with n ready endpoints 10.(100+i/65536).x.y. */
    static ServicePort bigHeadless(String ns, String name, int n) {
        List<Endpoint> eps = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            eps.add(endpoint("10." + (100 + i / 65536) + "." + (i / 256 % 256) + "." + (i % 256), 8080, true, ""));
        }
        return headless(ns, name, "", Protocol.TCP, 0, false, eps);
    }

    static ServicePort select(ServicePort sp) {
        return EndpointSelector.select(sp, NODE);
    }
}
