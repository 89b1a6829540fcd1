package dev.ferry.testkit;

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

/**
 * Builds {@link ServicePort}s for tests: {@code svc("web").clusterIP("10.96.0.1").ep("10.244.1.2", 8080).build()},
 * with kube-proxy's defaults for everything not named (ClusterIP, TCP, port 80, Cluster traffic
 * policies, no affinity) and endpoints ready and selected for cluster and external traffic.
 * Specs are mutable and single-threaded; the ports they build are immutable.
 */
public final class ServicePorts {
    private ServicePorts() {}

    public static InetAddress ip(String s) {
        return IpAddresses.parse(s);
    }

    /** A ready endpoint selected for cluster and external traffic, on node nodeName. */
    public static Endpoint ep(String ip, int port, String nodeName) {
        return new Endpoint(ip(ip), port, true, true, false, nodeName, "", List.of(), "", true, true);
    }

    public static Endpoint ep(String ip, int port, String nodeName, boolean cluster, boolean external) {
        return new Endpoint(ip(ip), port, true, true, false, nodeName, "", List.of(), "", cluster, external);
    }

    /** A mutable description turned into a ServicePort by {@link #build()}. */
    public static final class Spec {
        String ns = "default";
        String name;
        String portName = "";
        Protocol proto = Protocol.TCP;
        ServiceType type = ServiceType.CLUSTER_IP;
        List<InetAddress> clusterIPs = new ArrayList<>();
        int port = 80;
        int nodePort;
        List<InetAddress> externalIPs = new ArrayList<>();
        List<InetAddress> lbIPs = new ArrayList<>();
        SessionAffinity affinity = SessionAffinity.NONE;
        int affinityTimeout;
        TrafficPolicy etp = TrafficPolicy.CLUSTER;
        List<Cidr> ranges = new ArrayList<>();
        int hcNodePort;
        String targetPort = "";
        TrafficPolicy itp = TrafficPolicy.CLUSTER;
        String lbAlgorithm = "";
        boolean proxyProtocol;
        List<Endpoint> eps = new ArrayList<>();

        public Spec ns(String v) { ns = v; return this; }
        public Spec portName(String v) { portName = v; return this; }
        public Spec udp() { proto = Protocol.UDP; return this; }
        public Spec clusterIP(String v) { clusterIPs.add(ip(v)); return this; }
        public Spec port(int v) { port = v; return this; }
        public Spec nodePort(int v) { nodePort = v; if (type == ServiceType.CLUSTER_IP) type = ServiceType.NODE_PORT; return this; }
        public Spec externalIP(String v) { externalIPs.add(ip(v)); return this; }
        public Spec lbIP(String v) { lbIPs.add(ip(v)); type = ServiceType.LOAD_BALANCER; return this; }
        public Spec sourceRange(String v) { ranges.add(Cidr.parse(v)); return this; }
        public Spec clientIP(int timeout) { affinity = SessionAffinity.CLIENT_IP; affinityTimeout = timeout; return this; }
        public Spec local(int hc) { etp = TrafficPolicy.LOCAL; hcNodePort = hc; return this; }
        public Spec protocol(Protocol v) { proto = v; return this; }
        public Spec type(ServiceType v) { type = v; return this; }
        public Spec targetPort(String v) { targetPort = v; return this; }
        public Spec internalLocal() { itp = TrafficPolicy.LOCAL; return this; }
        public Spec lbAlgorithm(String v) { lbAlgorithm = v; return this; }
        public Spec proxyProtocol(boolean v) { proxyProtocol = v; return this; }
        public Spec ep(Endpoint e) { eps.add(e); return this; }
        public Spec ep(String ip, int port) { eps.add(ServicePorts.ep(ip, port, "node-a")); return this; }

        public ServicePort build() {
            return new ServicePort(new ServicePortName(ns, name, portName, proto), type, false, "", clusterIPs, port,
                    targetPort, nodePort, externalIPs, lbIPs, affinity, affinityTimeout, etp, itp, ranges,
                    hcNodePort, "", false, lbAlgorithm, proxyProtocol, eps);
        }
    }

    public static Spec svc(String name) {
        Spec s = new Spec();
        s.name = name;
        return s;
    }
}
