package dev.ferry.cli.conformance;

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

/** A terse builder of one service port and its endpoints, for the conformance scenarios. */
final class Svc {
    private final String ns;
    private final String name;
    private String portName = "p80";
    private Protocol protocol = Protocol.TCP;
    private int port = 80;
    private ServiceType type = ServiceType.CLUSTER_IP;
    private final List<InetAddress> clusterIPs = new ArrayList<>();
    private int nodePort;
    private final List<InetAddress> externalIPs = new ArrayList<>();
    private final List<InetAddress> lbIPs = new ArrayList<>();
    private final List<Cidr> ranges = new ArrayList<>();
    private TrafficPolicy etp = TrafficPolicy.CLUSTER;
    private TrafficPolicy itp = TrafficPolicy.CLUSTER;
    private int healthCheckNodePort;
    private SessionAffinity affinity = SessionAffinity.NONE;
    private int affinityTimeout;
    private final List<Endpoint> eps = new ArrayList<>();

    private Svc(String ns, String name) {
        this.ns = ns;
        this.name = name;
    }

    static Svc svc(String ns, String name) {
        return new Svc(ns, name);
    }

    Svc port(String portName, int port, Protocol protocol) {
        this.portName = portName;
        this.port = port;
        this.protocol = protocol;
        return this;
    }

    Svc clusterIP(String ip) { clusterIPs.add(IpAddresses.parse(ip)); return this; }

    Svc nodePort(int np) {
        nodePort = np;
        if (type == ServiceType.CLUSTER_IP) type = ServiceType.NODE_PORT;
        return this;
    }

    Svc externalIP(String ip) { externalIPs.add(IpAddresses.parse(ip)); return this; }

    Svc lb(String ip) { lbIPs.add(IpAddresses.parse(ip)); type = ServiceType.LOAD_BALANCER; return this; }

    Svc sourceRange(String cidr) { ranges.add(Cidr.parse(cidr)); return this; }

    Svc etpLocal() { etp = TrafficPolicy.LOCAL; return this; }

    Svc itpLocal() { itp = TrafficPolicy.LOCAL; return this; }

    Svc healthCheck(int p) { healthCheckNodePort = p; return this; }

    Svc clientIP(int seconds) { affinity = SessionAffinity.CLIENT_IP; affinityTimeout = seconds; return this; }

    /** A ready endpoint on node (empty: no nodeName, never local). */
    Svc ep(String ip, int port, String node) {
        return ep(ip, port, node, "R", List.of());
    }

    /**
     * An endpoint in a state: R ready, T serving and terminating, D terminating and not serving,
     * N not ready; hints are the zones it is hinted for.
     */
    Svc ep(String ip, int port, String node, String state, List<String> hints) {
        boolean ready = state.equals("R");
        boolean serving = ready || state.equals("T");
        boolean terminating = state.equals("T") || state.equals("D");
        eps.add(new Endpoint(IpAddresses.parse(ip), port, ready, serving, terminating, node, "", hints, ""));
        return this;
    }

    ServicePort build() {
        return new ServicePort(new ServicePortName(ns, name, portName, protocol), type, false, "", clusterIPs, port,
                Integer.toString(port), nodePort, externalIPs, lbIPs, affinity, affinityTimeout, etp, itp, ranges,
                healthCheckNodePort, "", false, "", false, eps);
    }
}
