package dev.ferry.proxy;

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

/** Builds service ports for the proxy tests, with endpoints selected for cluster and external traffic. */
final class Services {
    private Services() {}

    static Endpoint ready(String ip, int port) {
        return new Endpoint(IpAddresses.parse(ip), port, true, true, false, "node", "", List.of(), "", true, true);
    }

    static List<Endpoint> loopback(EchoBackend... backends) {
        List<Endpoint> out = new ArrayList<>();
        for (EchoBackend b : backends) {
            out.add(ready("127.0.0.1", b.port()));
        }
        return out;
    }

    static ServicePort clusterIp(String name, String ip, int port, Protocol proto, List<Endpoint> eps) {
        return build(name, ServiceType.CLUSTER_IP, List.of(ip), port, 0, List.of(), List.of(), List.of(),
                SessionAffinity.NONE, "", false, proto, eps);
    }

    static ServicePort build(String name, ServiceType type, List<String> clusterIps, int port, int nodePort,
                             List<String> externalIps, List<String> lbIps, List<String> sourceRanges,
                             SessionAffinity affinity, String algorithm, boolean proxyProtocol, Protocol proto,
                             List<Endpoint> eps) {
        return new ServicePort(new ServicePortName("default", name, "", proto), type, false, "",
                clusterIps.stream().map(IpAddresses::parse).toList(), port, String.valueOf(port), nodePort,
                externalIps.stream().map(IpAddresses::parse).toList(), lbIps.stream().map(IpAddresses::parse).toList(),
                affinity, affinity == SessionAffinity.CLIENT_IP ? 600 : 0, TrafficPolicy.CLUSTER, TrafficPolicy.CLUSTER,
                sourceRanges.stream().map(Cidr::parse).toList(), 0, "", false, algorithm, proxyProtocol, eps);
    }

    static InetAddress ip(String s) {
        return IpAddresses.parse(s);
    }
}
