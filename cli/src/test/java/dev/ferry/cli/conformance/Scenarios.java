package dev.ferry.cli.conformance;

import static dev.ferry.cli.conformance.Outcome.DROP;
import static dev.ferry.cli.conformance.Outcome.REJECT;
import static dev.ferry.cli.conformance.Outcome.UNTOUCHED;
import static dev.ferry.cli.conformance.Outcome.forward;
import static dev.ferry.cli.conformance.Svc.svc;

import dev.ferry.model.Cidr;
import dev.ferry.model.IpAddresses;
import dev.ferry.model.Protocol;
import dev.ferry.model.ServicePort;
import dev.ferry.select.EndpointSelector;
import dev.ferry.select.NodeInfo;
import dev.ferry.select.NodeNetwork;
import java.util.ArrayList;
import java.util.List;

/**
 * Ferry's conformance scenarios: the scenario sets of kube-proxy's own packet-flow tests (Kubernetes
 * v1.32, pkg/proxy/iptables and pkg/proxy/nftables proxier_test.go, pkg/proxy/topology_test.go),
 * written down as services, endpoints, flows and the outcome kube-proxy gives each flow. The node
 * is kube-proxy's test node: "test-node" with IPs 192.168.0.2 and 192.168.1.2, pods in 10.0.0.0/8,
 * services in 172.30.0.0/16; external clients are 203.0.113.0/24 (and 192.168.0.5 in
 * TestLoadBalancer). Where the two kernel modes of kube-proxy differ (localhost NodePorts,
 * unallocated ClusterIPs, ports a ClusterIP does not serve) a flow carries one outcome per mode.
 */
final class Scenarios {
    static final String NODE = "test-node";
    static final String NODE_IP = "192.168.0.2";
    static final String NODE_IP_ALT = "192.168.1.2";
    static final String POD = "10.0.0.2";
    static final String EXT = "203.0.113.2";
    /** Outside 203.0.113.0/25, the source range of TestOverallIPTablesRules' svc5. */
    static final String EXT_BLOCKED = "203.0.113.130";

    /** One flow and what kube-proxy's iptables and nftables modes do with it. */
    record FlowCase(String name, Packet packet, Outcome iptables, Outcome nftables) {
        @Override
        public String toString() {
            return name + " (" + packet + ")";
        }
    }

    /** A scenario set: the node's settings, its services (endpoint selection applied) and the flows. */
    record Scenario(String kubeProxyTest, String name, NodeNetwork network, String zone, List<ServicePort> services,
                    List<FlowCase> flows) {
        @Override
        public String toString() {
            return kubeProxyTest + ": " + name;
        }
    }

    static NodeNetwork network(boolean masqueradeAll, boolean podCidrKnown, List<String> nodePortAddresses,
                               boolean localhostNodePorts) {
        return new NodeNetwork(podCidrKnown ? List.of(Cidr.parse("10.0.0.0/8")) : List.of(),
                List.of(IpAddresses.parse(NODE_IP), IpAddresses.parse(NODE_IP_ALT)),
                nodePortAddresses.stream().map(Cidr::parse).toList(), localhostNodePorts, masqueradeAll,
                List.of(Cidr.parse("172.30.0.0/16")));
    }

    static final NodeNetwork DEFAULT = network(false, true, List.of(), true);

    /** Collects the flows of one scenario. */
    private static final class Builder {
        final String test;
        final String name;
        final NodeNetwork network;
        String zone = "";
        final List<ServicePort> services = new ArrayList<>();
        final List<FlowCase> flows = new ArrayList<>();

        Builder(String test, String name, NodeNetwork network) {
            this.test = test;
            this.name = name;
            this.network = network;
        }

        Builder services(Svc... s) {
            for (Svc x : s) services.add(x.build());
            return this;
        }

        Builder zone(String z) {
            zone = z;
            return this;
        }

        Builder flow(String name, String src, String dst, int port, Outcome both) {
            return flow(name, src, dst, port, "tcp", both, both);
        }

        Builder flow(String name, String src, String dst, int port, Outcome iptables, Outcome nftables) {
            return flow(name, src, dst, port, "tcp", iptables, nftables);
        }

        Builder flow(String name, String src, String dst, int port, String proto, Outcome iptables, Outcome nftables) {
            boolean fromNode = network.isLocal(IpAddresses.parse(src));
            flows.add(new FlowCase(name, Packet.of(src, dst, port, proto, fromNode), iptables, nftables));
            return this;
        }

        Scenario build() {
            return new Scenario(test, name, network, zone,
                    EndpointSelector.selectAll(services, new NodeInfo(NODE, zone)), flows);
        }
    }

    static List<Scenario> all() {
        List<Scenario> out = new ArrayList<>();
        out.add(overall());
        out.add(noEndpointsReject());
        out.add(clusterIpGeneral());
        out.add(loadBalancer());
        out.addAll(nodePorts());
        out.add(healthCheckNodePort());
        out.addAll(externalTrafficPolicyLocal());
        out.add(externalTrafficPolicyCluster());
        out.add(internalTrafficPolicy());
        out.addAll(terminatingLocal());
        out.addAll(terminatingCluster());
        out.addAll(internalExternalMasquerade());
        out.addAll(categorizeEndpoints());
        return out;
    }

    /** TestOverallIPTablesRules' services (also the golden payload's), with flows through each. */
    static Scenario overall() {
        return new Builder("TestOverallIPTablesRules", "the six golden services", DEFAULT)
                .services(overallServices())
                .flow("clusterIP from a pod", POD, "172.30.0.41", 80, forward(false, "10.180.0.1:80"))
                .flow("clusterIP from the node", NODE_IP, "172.30.0.41", 80, forward(true, "10.180.0.1:80"))
                .flow("clusterIP from outside the cluster CIDR", EXT, "172.30.0.41", 80, forward(true, "10.180.0.1:80"))
                .flow("hairpin: the endpoint to its own service", "10.180.0.1", "172.30.0.41", 80, forward(true, "10.180.0.1:80"))
                .flow("eTP Local LB without a local endpoint, from outside", EXT, "1.2.3.4", 80, DROP)
                .flow("eTP Local LB from a pod: cluster endpoints", POD, "1.2.3.4", 80, forward(false, "10.180.0.2:80"))
                // kube-proxy's nftables mode checks no-endpoint-services in filter-output, before the DNAT
                .flow("eTP Local LB from the node: cluster endpoints (iptables), dropped (nftables)", NODE_IP, "1.2.3.4", 80,
                        forward(true, "10.180.0.2:80"), DROP)
                .flow("eTP Local externalIP without a local endpoint", EXT, "192.168.99.22", 80, DROP)
                .flow("eTP Local NodePort without a local endpoint", EXT, NODE_IP, 3001, DROP)
                .flow("eTP Local clusterIP from a pod", POD, "172.30.0.42", 80, forward(false, "10.180.0.2:80"))
                .flow("NodePort from outside", EXT, NODE_IP, 3003, forward(true, "10.180.0.3:80"))
                .flow("NodePort on the node's other IP", EXT, NODE_IP_ALT, 3003, forward(true, "10.180.0.3:80"))
                .flow("NodePort on localhost from the node", "127.0.0.1", "127.0.0.1", 3003,
                        forward(true, "10.180.0.3:80"), UNTOUCHED)
                .flow("externalIP from outside", EXT, "192.168.99.33", 80, forward(true, "10.180.0.4:80", "10.180.0.5:80"))
                .flow("externalIP from a pod", POD, "192.168.99.33", 80, forward(true, "10.180.0.4:80", "10.180.0.5:80"))
                .flow("LB inside its source range", EXT, "5.6.7.8", 80, forward(true, "10.180.0.3:80"))
                .flow("LB outside its source range", EXT_BLOCKED, "5.6.7.8", 80, DROP)
                .flow("NodePort of a source-ranged LB: ranges do not apply", EXT_BLOCKED, NODE_IP, 3002, forward(true, "10.180.0.3:80"))
                .flow("clusterIP without endpoints", POD, "172.30.0.46", 80, REJECT)
                .flow("a ClusterIP on a port it does not serve", POD, "172.30.0.41", 81, UNTOUCHED, REJECT)
                .flow("an unallocated address of the service CIDR", POD, "172.30.0.99", 80, UNTOUCHED, DROP)
                .flow("an address outside the service CIDR", POD, "10.99.0.1", 80, UNTOUCHED)
                .build();
    }

    static Svc[] overallServices() {
        return new Svc[] {
                svc("ns1", "svc1").clusterIP("172.30.0.41").ep("10.180.0.1", 80, ""),
                svc("ns2", "svc2").clusterIP("172.30.0.42").nodePort(3001).lb("1.2.3.4").externalIP("192.168.99.22")
                        .etpLocal().healthCheck(30000).ep("10.180.0.2", 80, ""),
                svc("ns3", "svc3").clusterIP("172.30.0.43").nodePort(3003).ep("10.180.0.3", 80, ""),
                svc("ns4", "svc4").clusterIP("172.30.0.44").externalIP("192.168.99.33").ep("10.180.0.4", 80, "")
                        .ep("10.180.0.5", 80, NODE),
                svc("ns5", "svc5").clusterIP("172.30.0.45").nodePort(3002).lb("5.6.7.8").healthCheck(30000)
                        .sourceRange("203.0.113.0/25").clientIP(10800).ep("10.180.0.3", 80, ""),
                svc("ns6", "svc6").clusterIP("172.30.0.46")};
    }

    static Scenario noEndpointsReject() {
        return new Builder("TestNoEndpointsReject", "every frontend of a service without endpoints rejects", DEFAULT)
                .services(svc("ns1", "svc1").clusterIP("172.30.0.41").nodePort(3001).externalIP("192.168.99.11").lb("1.2.3.4"))
                .flow("clusterIP from a pod", POD, "172.30.0.41", 80, REJECT)
                .flow("clusterIP from the node", NODE_IP, "172.30.0.41", 80, REJECT)
                .flow("externalIP from outside", EXT, "192.168.99.11", 80, REJECT)
                .flow("LB IP from outside", EXT, "1.2.3.4", 80, REJECT)
                .flow("NodePort from outside", EXT, NODE_IP, 3001, REJECT)
                .flow("NodePort from a pod", POD, NODE_IP, 3001, REJECT)
                .flow("NodePort from the node", NODE_IP, NODE_IP, 3001, REJECT)
                // iptables mode rejects external destinations only on INPUT and FORWARD
                .flow("LB IP from the node", NODE_IP, "1.2.3.4", 80, UNTOUCHED, REJECT)
                .flow("externalIP from the node", NODE_IP, "192.168.99.11", 80, UNTOUCHED, REJECT)
                .build();
    }

    static Scenario clusterIpGeneral() {
        return new Builder("TestClusterIPGeneral", "ports, protocols and hairpin", DEFAULT)
                .services(svc("ns1", "svc1").clusterIP("172.30.0.41").ep("10.180.0.1", 80, NODE),
                        svc("ns1", "svc1").port("p443", 443, Protocol.TCP).clusterIP("172.30.0.41")
                                .ep("10.180.0.1", 443, NODE).ep("10.180.2.1", 443, "node-b"),
                        svc("ns2", "dns").port("dns", 53, Protocol.UDP).clusterIP("172.30.0.42")
                                .ep("10.180.0.2", 5353, NODE).ep("10.180.2.2", 5353, "node-b"))
                .flow("simple clusterIP", POD, "172.30.0.41", 80, forward(false, "10.180.0.1:80"))
                .flow("second port, two endpoints", POD, "172.30.0.41", 443, forward(false, "10.180.0.1:443", "10.180.2.1:443"))
                .flow("UDP port", POD, "172.30.0.42", 53, "udp", forward(false, "10.180.0.2:5353", "10.180.2.2:5353"),
                        forward(false, "10.180.0.2:5353", "10.180.2.2:5353"))
                .flow("TCP to a UDP-only port", POD, "172.30.0.42", 53, UNTOUCHED, REJECT)
                .flow("from the node: masqueraded", NODE_IP, "172.30.0.41", 443, forward(true, "10.180.0.1:443", "10.180.2.1:443"))
                .flow("hairpin is masqueraded", "10.180.0.1", "172.30.0.41", 80, forward(true, "10.180.0.1:80"))
                .flow("unknown port of a ClusterIP", POD, "172.30.0.41", 8080, UNTOUCHED, REJECT)
                .build();
    }

    static Scenario loadBalancer() {
        return new Builder("TestLoadBalancer", "source ranges covering the node admit the LB IP itself", DEFAULT)
                .services(svc("ns1", "svc1").clusterIP("172.30.0.41").nodePort(3001).lb("1.2.3.4")
                        .sourceRange("192.168.0.0/24").ep("10.180.0.1", 80, "node-b"))
                .flow("LB from an allowed source", "192.168.0.5", "1.2.3.4", 80, forward(true, "10.180.0.1:80"))
                .flow("LB from a blocked source", EXT, "1.2.3.4", 80, DROP)
                .flow("LB from a pod outside the ranges", POD, "1.2.3.4", 80, DROP)
                .flow("LB from the LB IP itself (node hairpin through the VIP)", "1.2.3.4", "1.2.3.4", 80, forward(true, "10.180.0.1:80"))
                .flow("NodePort ignores source ranges", EXT, NODE_IP, 3001, forward(true, "10.180.0.1:80"))
                .flow("clusterIP ignores source ranges", EXT, "172.30.0.41", 80, forward(true, "10.180.0.1:80"))
                .build();
    }

    static List<Scenario> nodePorts() {
        Svc np = svc("ns1", "svc1").clusterIP("172.30.0.41").nodePort(3001).ep("10.180.0.1", 80, "node-b");
        List<Scenario> out = new ArrayList<>();
        out.add(new Builder("TestNodePorts", "nodePortAddresses empty", network(false, true, List.of(), true)).services(np)
                .flow("primary node IP", EXT, NODE_IP, 3001, forward(true, "10.180.0.1:80"))
                .flow("other node IP", EXT, NODE_IP_ALT, 3001, forward(true, "10.180.0.1:80"))
                .flow("localhost from the node", "127.0.0.1", "127.0.0.1", 3001, forward(true, "10.180.0.1:80"), UNTOUCHED)
                .flow("not a node address", POD, "192.168.2.9", 3001, UNTOUCHED)
                .build());
        out.add(new Builder("TestNodePorts", "nodePortAddresses 192.168.0.0/24", network(false, true, List.of("192.168.0.0/24"), true))
                .services(np)
                .flow("inside nodePortAddresses", EXT, NODE_IP, 3001, forward(true, "10.180.0.1:80"))
                .flow("node IP outside nodePortAddresses", EXT, NODE_IP_ALT, 3001, UNTOUCHED)
                .flow("localhost outside nodePortAddresses", "127.0.0.1", "127.0.0.1", 3001, UNTOUCHED)
                .build());
        out.add(new Builder("TestNodePorts", "nodePortAddresses with 127.0.0.1, localhostNodePorts on",
                network(false, true, List.of("192.168.0.0/24", "127.0.0.1/32"), true)).services(np)
                .flow("localhost listed", "127.0.0.1", "127.0.0.1", 3001, forward(true, "10.180.0.1:80"), UNTOUCHED)
                .flow("node IP listed", EXT, NODE_IP, 3001, forward(true, "10.180.0.1:80"))
                .build());
        out.add(new Builder("TestNodePorts", "nodePortAddresses with 127.0.0.1, localhostNodePorts off",
                network(false, true, List.of("192.168.0.0/24", "127.0.0.1/32"), false)).services(np)
                .flow("localhost ignored without route_localnet", "127.0.0.1", "127.0.0.1", 3001, UNTOUCHED)
                .flow("node IP listed", EXT, NODE_IP, 3001, forward(true, "10.180.0.1:80"))
                .build());
        out.add(new Builder("TestNodePorts", "localhostNodePorts off, nodePortAddresses empty",
                network(false, true, List.of(), false)).services(np)
                .flow("localhost not served", "127.0.0.1", "127.0.0.1", 3001, UNTOUCHED)
                .flow("node IP served", EXT, NODE_IP, 3001, forward(true, "10.180.0.1:80"))
                .build());
        return out;
    }

    static Scenario healthCheckNodePort() {
        return new Builder("TestHealthCheckNodePort", "the health-check port is not a service frontend", DEFAULT)
                .services(svc("ns1", "svc1").clusterIP("172.30.0.42").nodePort(3001).lb("1.2.3.4").etpLocal()
                        .healthCheck(30000).ep("10.180.0.1", 80, NODE))
                .flow("health check port reaches the node's own server", EXT, NODE_IP, 30000, UNTOUCHED)
                .flow("the NodePort itself", EXT, NODE_IP, 3001, forward(false, "10.180.0.1:80"))
                .build();
    }

    static List<Scenario> externalTrafficPolicyLocal() {
        Svc both = svc("ns1", "svc1").clusterIP("172.30.0.41").nodePort(3001).lb("1.2.3.4").externalIP("192.168.99.11")
                .etpLocal().healthCheck(30000).ep("10.180.0.1", 80, NODE).ep("10.180.2.1", 80, "node-b");
        Svc remote = svc("ns1", "svc1").clusterIP("172.30.0.41").nodePort(3001).lb("1.2.3.4").externalIP("192.168.99.11")
                .etpLocal().healthCheck(30000).ep("10.180.2.1", 80, "node-b");
        return List.of(
                new Builder("TestExternalTrafficPolicyLocal", "local and remote endpoints", DEFAULT).services(both)
                        .flow("clusterIP from a pod: all endpoints", POD, "172.30.0.41", 80, forward(false, "10.180.0.1:80", "10.180.2.1:80"))
                        .flow("LB from outside: local endpoint, source kept", EXT, "1.2.3.4", 80, forward(false, "10.180.0.1:80"))
                        .flow("NodePort from outside: local endpoint", EXT, NODE_IP, 3001, forward(false, "10.180.0.1:80"))
                        .flow("externalIP from outside: local endpoint", EXT, "192.168.99.11", 80, forward(false, "10.180.0.1:80"))
                        .flow("LB from a pod: all endpoints", POD, "1.2.3.4", 80, forward(false, "10.180.0.1:80", "10.180.2.1:80"))
                        .flow("LB from the node: all endpoints, masqueraded", NODE_IP, "1.2.3.4", 80, forward(true, "10.180.0.1:80", "10.180.2.1:80"))
                        .flow("NodePort from the node", NODE_IP, NODE_IP, 3001, forward(true, "10.180.0.1:80", "10.180.2.1:80"))
                        .flow("localhost NodePort from the node", "127.0.0.1", "127.0.0.1", 3001,
                                forward(true, "10.180.0.1:80", "10.180.2.1:80"), UNTOUCHED)
                        .build(),
                new Builder("TestExternalTrafficPolicyLocal", "only remote endpoints", DEFAULT).services(remote)
                        .flow("LB from outside: dropped", EXT, "1.2.3.4", 80, DROP)
                        .flow("NodePort from outside: dropped", EXT, NODE_IP, 3001, DROP)
                        .flow("externalIP from outside: dropped", EXT, "192.168.99.11", 80, DROP)
                        .flow("LB from a pod: the remote endpoint", POD, "1.2.3.4", 80, forward(false, "10.180.2.1:80"))
                        .flow("NodePort from the node: the remote endpoint", NODE_IP, NODE_IP, 3001, forward(true, "10.180.2.1:80"))
                        .flow("LB from the node", NODE_IP, "1.2.3.4", 80, forward(true, "10.180.2.1:80"), DROP)
                        .flow("clusterIP from a pod", POD, "172.30.0.41", 80, forward(false, "10.180.2.1:80"))
                        .build());
    }

    static Scenario externalTrafficPolicyCluster() {
        return new Builder("TestExternalTrafficPolicyCluster", "every source masqueraded to every endpoint", DEFAULT)
                .services(svc("ns1", "svc1").clusterIP("172.30.0.41").nodePort(3001).lb("1.2.3.4").externalIP("192.168.99.11")
                        .ep("10.180.0.1", 80, NODE).ep("10.180.2.1", 80, "node-b"))
                .flow("LB from outside", EXT, "1.2.3.4", 80, forward(true, "10.180.0.1:80", "10.180.2.1:80"))
                .flow("NodePort from outside", EXT, NODE_IP, 3001, forward(true, "10.180.0.1:80", "10.180.2.1:80"))
                .flow("externalIP from a pod", POD, "192.168.99.11", 80, forward(true, "10.180.0.1:80", "10.180.2.1:80"))
                .flow("LB from the node", NODE_IP, "1.2.3.4", 80, forward(true, "10.180.0.1:80", "10.180.2.1:80"))
                .flow("clusterIP from a pod", POD, "172.30.0.41", 80, forward(false, "10.180.0.1:80", "10.180.2.1:80"))
                .build();
    }

    static Scenario internalTrafficPolicy() {
        return new Builder("TestInternalTrafficPolicy", "internalTrafficPolicy Local", DEFAULT)
                .services(svc("ns1", "local-ep").clusterIP("172.30.0.41").itpLocal()
                                .ep("10.180.0.1", 80, NODE).ep("10.180.2.1", 80, "node-b"),
                        svc("ns1", "remote-only").clusterIP("172.30.0.42").itpLocal().ep("10.180.2.2", 80, "node-b"),
                        svc("ns1", "none").clusterIP("172.30.0.43").itpLocal(),
                        svc("ns1", "cluster").clusterIP("172.30.0.44").ep("10.180.0.4", 80, NODE).ep("10.180.2.4", 80, "node-b"))
                .flow("iTP Local: this node's endpoint only", POD, "172.30.0.41", 80, forward(false, "10.180.0.1:80"))
                .flow("iTP Local from the node: masqueraded", NODE_IP, "172.30.0.41", 80, forward(true, "10.180.0.1:80"))
                .flow("iTP Local without a local endpoint: dropped", POD, "172.30.0.42", 80, DROP)
                .flow("iTP Local without any endpoint: rejected", POD, "172.30.0.43", 80, REJECT)
                .flow("iTP Cluster: every endpoint", POD, "172.30.0.44", 80, forward(false, "10.180.0.4:80", "10.180.2.4:80"))
                .build();
    }

    static List<Scenario> terminatingLocal() {
        List<Scenario> out = new ArrayList<>();
        String t = "TestTerminatingEndpointsTrafficPolicyLocal";
        out.add(new Builder(t, "ready local endpoints win over terminating ones", DEFAULT)
                .services(svc("ns1", "svc1").clusterIP("172.30.0.41").nodePort(3001).lb("1.2.3.4").etpLocal()
                        .ep("10.0.1.1", 80, NODE).ep("10.0.1.2", 80, NODE).ep("10.0.1.3", 80, NODE, "T", List.of())
                        .ep("10.0.1.4", 80, NODE, "D", List.of()).ep("10.0.1.5", 80, "host-1"))
                .flow("external: local ready only", EXT, "1.2.3.4", 80, forward(false, "10.0.1.1:80", "10.0.1.2:80"))
                .flow("clusterIP: all ready", POD, "172.30.0.41", 80, forward(false, "10.0.1.1:80", "10.0.1.2:80", "10.0.1.5:80"))
                .build());
        out.add(new Builder(t, "only serving-terminating local endpoints", DEFAULT)
                .services(svc("ns1", "svc1").clusterIP("172.30.0.41").nodePort(3001).lb("1.2.3.4").etpLocal()
                        .ep("10.0.1.1", 80, NODE, "T", List.of()).ep("10.0.1.2", 80, NODE, "T", List.of())
                        .ep("10.0.1.3", 80, NODE, "D", List.of()).ep("10.0.1.5", 80, "host-1"))
                .flow("external: local serving-terminating fallback", EXT, "1.2.3.4", 80, forward(false, "10.0.1.1:80", "10.0.1.2:80"))
                .flow("clusterIP: the remote ready one", POD, "172.30.0.41", 80, forward(false, "10.0.1.5:80"))
                .build());
        out.add(new Builder(t, "local endpoints terminating and not serving", DEFAULT)
                .services(svc("ns1", "svc1").clusterIP("172.30.0.41").nodePort(3001).lb("1.2.3.4").etpLocal()
                        .ep("10.0.1.1", 80, NODE, "D", List.of()).ep("10.0.1.5", 80, "host-1"))
                .flow("external: dropped (usable endpoints elsewhere)", EXT, "1.2.3.4", 80, DROP)
                .flow("NodePort from outside: dropped", EXT, NODE_IP, 3001, DROP)
                .flow("clusterIP: the remote one", POD, "172.30.0.41", 80, forward(false, "10.0.1.5:80"))
                .build());
        out.add(new Builder(t, "no usable endpoint anywhere", DEFAULT)
                .services(svc("ns1", "svc1").clusterIP("172.30.0.41").nodePort(3001).lb("1.2.3.4").etpLocal()
                        .ep("10.0.1.1", 80, NODE, "D", List.of()).ep("10.0.1.5", 80, "host-1", "N", List.of()))
                .flow("external: rejected", EXT, "1.2.3.4", 80, REJECT)
                .flow("clusterIP: rejected", POD, "172.30.0.41", 80, REJECT)
                .build());
        out.add(new Builder(t, "remote serving-terminating, no local", DEFAULT)
                .services(svc("ns1", "svc1").clusterIP("172.30.0.41").nodePort(3001).lb("1.2.3.4").etpLocal()
                        .ep("10.0.1.5", 80, "host-1", "T", List.of()))
                .flow("external: dropped", EXT, "1.2.3.4", 80, DROP)
                .flow("clusterIP: the remote serving-terminating one", POD, "172.30.0.41", 80, forward(false, "10.0.1.5:80"))
                .build());
        return out;
    }

    static List<Scenario> terminatingCluster() {
        List<Scenario> out = new ArrayList<>();
        String t = "TestTerminatingEndpointsTrafficPolicyCluster";
        out.add(new Builder(t, "ready endpoints win", DEFAULT)
                .services(svc("ns1", "svc1").clusterIP("172.30.0.41").nodePort(3001).lb("1.2.3.4")
                        .ep("10.0.1.1", 80, NODE).ep("10.0.1.2", 80, "host-1").ep("10.0.1.3", 80, NODE, "T", List.of())
                        .ep("10.0.1.4", 80, "host-1", "D", List.of()))
                .flow("external", EXT, "1.2.3.4", 80, forward(true, "10.0.1.1:80", "10.0.1.2:80"))
                .flow("clusterIP", POD, "172.30.0.41", 80, forward(false, "10.0.1.1:80", "10.0.1.2:80"))
                .build());
        out.add(new Builder(t, "only serving-terminating endpoints", DEFAULT)
                .services(svc("ns1", "svc1").clusterIP("172.30.0.41").nodePort(3001).lb("1.2.3.4")
                        .ep("10.0.1.1", 80, NODE, "T", List.of()).ep("10.0.1.2", 80, "host-1", "T", List.of())
                        .ep("10.0.1.3", 80, "host-1", "D", List.of()))
                .flow("external: serving-terminating fallback", EXT, "1.2.3.4", 80, forward(true, "10.0.1.1:80", "10.0.1.2:80"))
                .flow("NodePort", EXT, NODE_IP, 3001, forward(true, "10.0.1.1:80", "10.0.1.2:80"))
                .build());
        out.add(new Builder(t, "nothing serving", DEFAULT)
                .services(svc("ns1", "svc1").clusterIP("172.30.0.41").nodePort(3001).lb("1.2.3.4")
                        .ep("10.0.1.1", 80, NODE, "D", List.of()).ep("10.0.1.2", 80, "host-1", "N", List.of()))
                .flow("external: rejected", EXT, "1.2.3.4", 80, REJECT)
                .flow("NodePort: rejected", EXT, NODE_IP, 3001, REJECT)
                .build());
        return out;
    }

    static List<Scenario> internalExternalMasquerade() {
        List<Scenario> out = new ArrayList<>();
        String t = "TestInternalExternalMasquerade";
        for (int variant = 0; variant < 3; variant++) {
            boolean masqAll = variant == 1;
            boolean cidr = variant != 2;
            String name = variant == 0 ? "clusterCIDR known" : variant == 1 ? "masqueradeAll" : "no clusterCIDR";
            Builder b = new Builder(t, name, network(masqAll, cidr, List.of(), true)).services(
                    svc("ns1", "svc1").clusterIP("172.30.0.41").nodePort(3001).lb("9.10.11.12").ep("10.180.0.1", 80, NODE)
                            .ep("10.180.1.1", 80, "remote"),
                    svc("ns2", "svc2").clusterIP("172.30.0.42").nodePort(3002).lb("9.10.11.13").etpLocal()
                            .ep("10.180.0.2", 80, NODE).ep("10.180.1.2", 80, "remote"),
                    svc("ns3", "svc3").clusterIP("172.30.0.43").nodePort(3003).lb("9.10.11.14").etpLocal()
                            .ep("10.180.1.3", 80, "remote"));
            String[] all1 = {"10.180.0.1:80", "10.180.1.1:80"};
            String[] all2 = {"10.180.0.2:80", "10.180.1.2:80"};
            b.flow("pod to ClusterIP", POD, "172.30.0.41", 80, forward(masqAll, all1));
            b.flow("pod to NodePort", POD, NODE_IP, 3001, forward(true, all1));
            b.flow("pod to LB", POD, "9.10.11.12", 80, forward(true, all1));
            // without a pod CIDR, pods cannot be told apart: the Local policy applies to them too
            b.flow("pod to eTP Local LB", POD, "9.10.11.13", 80, cidr ? forward(false, all2) : forward(false, "10.180.0.2:80"));
            b.flow("pod to eTP Local NodePort without local endpoint", POD, NODE_IP, 3003,
                    cidr ? forward(false, "10.180.1.3:80") : DROP);
            b.flow("node to ClusterIP", NODE_IP, "172.30.0.41", 80, forward(masqAll || cidr, all1));
            b.flow("node to eTP Local LB", NODE_IP, "9.10.11.13", 80, forward(true, all2));
            b.flow("node to eTP Local NodePort without local endpoint", NODE_IP, NODE_IP, 3003, forward(true, "10.180.1.3:80"));
            b.flow("external to ClusterIP", EXT, "172.30.0.41", 80, forward(masqAll || cidr, all1));
            b.flow("external to NodePort", EXT, NODE_IP, 3001, forward(true, all1));
            b.flow("external to eTP Local NodePort", EXT, NODE_IP, 3002, forward(false, "10.180.0.2:80"));
            b.flow("external to eTP Local LB without local endpoint", EXT, "9.10.11.14", 80, DROP);
            out.add(b.build());
        }
        return out;
    }

    static List<Scenario> categorizeEndpoints() {
        List<Scenario> out = new ArrayList<>();
        String t = "TestCategorizeEndpoints";
        List<String> a = List.of("zone-a");
        List<String> b = List.of("zone-b");
        out.add(new Builder(t, "hints for this zone are used", DEFAULT).zone("zone-a")
                .services(svc("ns1", "svc1").clusterIP("172.30.0.41").ep("10.1.2.3", 80, "n1", "R", a)
                        .ep("10.1.2.4", 80, "n2", "R", b).ep("10.1.2.5", 80, "n3", "R", a))
                .flow("same-zone endpoints only", POD, "172.30.0.41", 80, forward(false, "10.1.2.3:80", "10.1.2.5:80"))
                .build());
        out.add(new Builder(t, "an endpoint without hints: hints ignored", DEFAULT).zone("zone-a")
                .services(svc("ns1", "svc1").clusterIP("172.30.0.41").ep("10.1.2.3", 80, "n1", "R", a)
                        .ep("10.1.2.4", 80, "n2", "R", List.of()))
                .flow("every endpoint", POD, "172.30.0.41", 80, forward(false, "10.1.2.3:80", "10.1.2.4:80"))
                .build());
        out.add(new Builder(t, "no hint for this zone: hints ignored", DEFAULT).zone("zone-c")
                .services(svc("ns1", "svc1").clusterIP("172.30.0.41").ep("10.1.2.3", 80, "n1", "R", a)
                        .ep("10.1.2.4", 80, "n2", "R", b))
                .flow("every endpoint", POD, "172.30.0.41", 80, forward(false, "10.1.2.3:80", "10.1.2.4:80"))
                .build());
        out.add(new Builder(t, "node without a zone: hints ignored", DEFAULT)
                .services(svc("ns1", "svc1").clusterIP("172.30.0.41").ep("10.1.2.3", 80, "n1", "R", a)
                        .ep("10.1.2.4", 80, "n2", "R", b))
                .flow("every endpoint", POD, "172.30.0.41", 80, forward(false, "10.1.2.3:80", "10.1.2.4:80"))
                .build());
        out.add(new Builder(t, "eTP Local ignores hints; cluster traffic follows them", DEFAULT).zone("zone-a")
                .services(svc("ns1", "svc1").clusterIP("172.30.0.41").nodePort(3001).etpLocal()
                        .ep("10.1.2.3", 80, "n1", "R", a).ep("10.1.2.4", 80, NODE, "R", b))
                .flow("external: the local endpoint, whatever its zone", EXT, NODE_IP, 3001, forward(false, "10.1.2.4:80"))
                .flow("clusterIP: same zone", POD, "172.30.0.41", 80, forward(false, "10.1.2.3:80"))
                .build());
        out.add(new Builder(t, "iTP Local ignores hints", DEFAULT).zone("zone-a")
                .services(svc("ns1", "svc1").clusterIP("172.30.0.41").itpLocal()
                        .ep("10.1.2.3", 80, "n1", "R", a).ep("10.1.2.4", 80, NODE, "R", b))
                .flow("clusterIP: the local endpoint", POD, "172.30.0.41", 80, forward(false, "10.1.2.4:80"))
                .build());
        out.add(new Builder(t, "not-ready endpoints never chosen by topology", DEFAULT).zone("zone-a")
                .services(svc("ns1", "svc1").clusterIP("172.30.0.41").ep("10.1.2.3", 80, "n1", "N", a)
                        .ep("10.1.2.4", 80, "n2", "R", b))
                .flow("no ready endpoint for this zone: all ready ones", POD, "172.30.0.41", 80, forward(false, "10.1.2.4:80"))
                .build());
        return out;
    }

    private Scenarios() {}
}
