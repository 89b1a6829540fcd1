package dev.ferry.rules.nft;

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

/** Builds service ports for tests: a fluent copy-on-write builder over the model record. */
final class Services {
    ServicePortName name;
    ServiceType type = ServiceType.CLUSTER_IP;
    List<InetAddress> clusterIPs = new ArrayList<>();
    int port = 80;
    int nodePort;
    List<InetAddress> externalIPs = new ArrayList<>();
    List<InetAddress> lbIPs = new ArrayList<>();
    SessionAffinity affinity = SessionAffinity.NONE;
    int affinityTimeout;
    TrafficPolicy etp = TrafficPolicy.CLUSTER;
    List<Cidr> sourceRanges = new ArrayList<>();
    List<Endpoint> endpoints = new ArrayList<>();

    static Services svc(String ns, String name, String clusterIp, int port) {
        Services s = new Services();
        s.name = new ServicePortName(ns, name, "", Protocol.TCP);
        s.clusterIPs.add(ip(clusterIp));
        s.port = port;
        return s;
    }

    Services portName(String p, Protocol proto) {
        name = new ServicePortName(name.namespace(), name.name(), p, proto);
        return this;
    }

    Services nodePort(int np) {
        type = ServiceType.NODE_PORT;
        nodePort = np;
        return this;
    }

    Services externalIp(String ip) {
        externalIPs.add(ip(ip));
        return this;
    }

    Services loadBalancer(String ip, String... ranges) {
        type = ServiceType.LOAD_BALANCER;
        lbIPs.add(ip(ip));
        for (String r : ranges) {
            sourceRanges.add(Cidr.parse(r));
        }
        return this;
    }

    Services affinity(int timeout) {
        affinity = SessionAffinity.CLIENT_IP;
        affinityTimeout = timeout;
        return this;
    }

    Services local() {
        etp = TrafficPolicy.LOCAL;
        return this;
    }

    /** An endpoint for cluster and external traffic. */
    Services ep(String ip, int port) {
        return ep(ip, port, true, true);
    }

    Services ep(String ip, int port, boolean cluster, boolean external) {
        endpoints.add(new Endpoint(ip(ip), port, true, true, false, "node-a", "", List.of(), "", cluster, external));
        return this;
    }

    ServicePort build() {
        return new ServicePort(name, type, false, "", clusterIPs, port, "", nodePort, externalIPs, lbIPs, affinity,
                affinityTimeout, etp, TrafficPolicy.CLUSTER, sourceRanges, 0, "", false, "", false, endpoints);
    }

    static InetAddress ip(String s) {
        InetAddress a = IpAddresses.parse(s);
        if (a == null) {
            throw new IllegalArgumentException("bad test IP " + s);
        }
        return a;
    }
}
