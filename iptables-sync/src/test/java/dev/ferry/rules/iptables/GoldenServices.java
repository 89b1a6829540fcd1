package dev.ferry.rules.iptables;

import static dev.ferry.testkit.ServicePorts.ep;
import static dev.ferry.testkit.ServicePorts.svc;

import dev.ferry.model.ServicePort;
import dev.ferry.select.EndpointSelector;
import dev.ferry.select.NodeInfo;
import java.util.List;

/** The fixed service set of the golden files: one of each feature, selected for node "node-a". */
final class GoldenServices {
    private GoldenServices() {}

    static List<ServicePort> all() {
        return EndpointSelector.selectAll(List.of(
                // kube-proxy's own test fixture: ns1/svc1:p80 -> KUBE-SVC-XPGD46QRK7WJZT7O
                svc("svc1").ns("ns1").portName("p80").clusterIP("10.20.30.41").port(80)
                        .ep(ep("10.180.0.1", 80, "node-a")).build(),
                // NodePort + externalIP + LB with source ranges, externalTrafficPolicy Local
                svc("svc2").ns("ns2").portName("p80").clusterIP("10.20.30.42").port(80).nodePort(3001)
                        .externalIP("192.168.99.22").lbIP("1.2.3.4").sourceRange("203.0.113.0/25").local(30000)
                        .ep(ep("10.180.0.2", 80, "node-a")).ep(ep("10.180.1.2", 80, "node-b")).build(),
                // no endpoints: REJECT for the cluster IP and the node port
                svc("svc3").ns("ns3").portName("p80").clusterIP("10.20.30.43").port(80).nodePort(3003).build(),
                // ClientIP affinity over three endpoints
                svc("svc4").ns("ns4").portName("p80").clusterIP("10.20.30.44").port(80).clientIP(10800)
                        .ep(ep("10.180.0.4", 8080, "node-a")).ep(ep("10.180.0.5", 8080, "node-b"))
                        .ep(ep("10.180.0.6", 8080, "node-c")).build(),
                // UDP, dual stack
                svc("dns").ns("kube-system").portName("dns").udp().clusterIP("10.20.30.53").clusterIP("fd00:10:96::a")
                        .port(53).ep(ep("10.180.0.53", 5353, "node-a")).ep(ep("fd00:10:244::53", 5353, "node-a")).build()),
                new NodeInfo("node-a", ""));
    }
}
