package dev.ferry.daemon;

import dev.ferry.model.Cidr;
import dev.ferry.model.Endpoint;
import dev.ferry.model.IpAddresses;
import dev.ferry.model.Protocol;
import dev.ferry.model.ServicePort;
import dev.ferry.model.ServicePortName;
import dev.ferry.model.ServiceType;
import dev.ferry.model.SessionAffinity;
import dev.ferry.model.TrafficPolicy;
import java.util.List;

/** Two service ports that exercise most of the record: a dual-stack LoadBalancer with affinity, and a plain UDP ClusterIP. */
public final class SamplePorts {
    private SamplePorts() {}

    public static ServicePort web() {
        return new ServicePort(new ServicePortName("prod", "web", "https", Protocol.TCP), ServiceType.LOAD_BALANCER,
                false, "", List.of(IpAddresses.parse("10.96.0.10"), IpAddresses.parse("fd00::a")), 443, "8443", 30443,
                List.of(), List.of(IpAddresses.parse("203.0.113.9")), SessionAffinity.CLIENT_IP, 600,
                TrafficPolicy.LOCAL, TrafficPolicy.CLUSTER, List.of(Cidr.parse("198.51.100.0/24")), 32100, "", false,
                "", false, List.of(
                        new Endpoint(IpAddresses.parse("10.244.1.5"), 8443, true, true, false, "node-a", "z1", List.of("z1"), "web-0"),
                        new Endpoint(IpAddresses.parse("10.244.2.6"), 8443, false, true, true, "node-b", "z2", List.of(), "")));
    }

    public static ServicePort dns() {
        return new ServicePort(new ServicePortName("kube-system", "kube-dns", "dns", Protocol.UDP), ServiceType.CLUSTER_IP,
                false, "", List.of(IpAddresses.parse("10.96.0.53")), 53, "53", 0, List.of(), List.of(), null, 0, null,
                null, List.of(), 0, "", false, "", false, List.of());
    }
}
