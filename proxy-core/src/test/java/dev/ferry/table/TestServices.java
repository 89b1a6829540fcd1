package dev.ferry.table;

import dev.ferry.model.Cidr;
import dev.ferry.model.Endpoint;
import dev.ferry.model.IpAddresses;
import dev.ferry.model.Protocol;
import dev.ferry.model.ServicePort;
import dev.ferry.model.ServicePortName;
import dev.ferry.model.ServiceType;
import dev.ferry.model.SessionAffinity;
import dev.ferry.model.TrafficPolicy;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;

/** Builders of realistic service ports for table tests. */
final class TestServices {
    private TestServices() {}

    static InetAddress ip(String s) {
        InetAddress a = IpAddresses.parse(s);
        if (a == null) throw new IllegalArgumentException(s);
        return a;
    }

    /** ClusterIP 10.96.(i/250).(i%250+1):80 with n endpoints 10.244.x.y:port. */
    static ServicePort clusterIp(int i, int endpoints, int endpointPort) {
        List<Endpoint> eps = new ArrayList<>();
        for (int e = 0; e < endpoints; e++) {
            eps.add(new Endpoint(ip("10.244." + (e / 250) + "." + (e % 250 + 1)), endpointPort, true, true, false,
                    "node-" + (e % 3), "zone-" + (e % 2), List.of(), ""));
        }
        return new ServicePort(new ServicePortName("ns" + (i % 7), "svc-" + i, "http", Protocol.TCP),
                ServiceType.CLUSTER_IP, false, "", List.of(ip(clusterIpOf(i))), 80, "8080", 0, List.of(), List.of(),
                SessionAffinity.NONE, 0, TrafficPolicy.CLUSTER, TrafficPolicy.CLUSTER, List.of(), 0, "", false, "",
                false, eps);
    }

    static String clusterIpOf(int i) {
        return "10.96." + (i / 250 % 250) + "." + (i % 250 + 1) + "";
    }

    static ServicePort loadBalancer() {
        List<Endpoint> eps = List.of(
                new Endpoint(ip("10.244.1.5"), 8443, true, true, false, "node-a", "zone-1", List.of("zone-1"), "web-0", true, false),
                new Endpoint(ip("10.244.2.6"), 8443, false, true, true, "node-b", "zone-2", List.of("zone-2"), "web-1", false, true),
                new Endpoint(ip("fd00::6"), 8443, true, true, false, "node-b", "zone-2", List.of(), ""));
        return new ServicePort(new ServicePortName("prod", "web", "https", Protocol.TCP), ServiceType.LOAD_BALANCER,
                false, "", List.of(ip("10.96.0.10"), ip("fd00:10:96::a")), 443, "https", 30443,
                List.of(ip("192.0.2.7")), List.of(ip("203.0.113.9")), SessionAffinity.CLIENT_IP, 600,
                TrafficPolicy.LOCAL, TrafficPolicy.CLUSTER, List.of(Cidr.parse("198.51.100.0/24"), Cidr.parse("2001:db8::/32")),
                32100, "PreferClose", false, "maglev", true, eps);
    }
}
