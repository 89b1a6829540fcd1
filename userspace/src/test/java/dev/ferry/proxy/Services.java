package dev.ferry.proxy;

import dev.ferry.model.Endpoint;
import dev.ferry.model.IpAddresses;
import dev.ferry.model.Protocol;
import dev.ferry.model.ServicePort;
import dev.ferry.model.ServiceType;
import dev.ferry.model.SessionAffinity;
import dev.ferry.testkit.ServicePorts;
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
        ServicePorts.Spec spec = ServicePorts.svc(name).protocol(proto).port(port).targetPort(String.valueOf(port))
                .nodePort(nodePort).lbAlgorithm(algorithm).proxyProtocol(proxyProtocol);
        clusterIps.forEach(spec::clusterIP);
        externalIps.forEach(spec::externalIP);
        lbIps.forEach(spec::lbIP);
        sourceRanges.forEach(spec::sourceRange);
        eps.forEach(spec::ep);
        if (affinity == SessionAffinity.CLIENT_IP) {
            spec.clientIP(600);
        }
        return spec.type(type).build(); // last: nodePort() and lbIP() pick a type of their own
    }

    static InetAddress ip(String s) {
        return IpAddresses.parse(s);
    }
}
