package dev.ferry.bench.rules.iptables;

import dev.ferry.model.Endpoint;
import dev.ferry.model.IpAddresses;
import dev.ferry.model.Protocol;
import dev.ferry.model.ServicePort;
import dev.ferry.model.ServicePortName;
import dev.ferry.model.ServiceType;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;

/**
 * n ClusterIP TCP services with 5 ready endpoints each (selected for cluster traffic), every fifth
 * one also a NodePort while the NodePort range lasts (the first 13 840 services) — the shape of the
 * issue's benchmark. Deterministic. Cold path.
 */
public final class ServiceFixture {
    private ServiceFixture() {}

    public static List<ServicePort> services(int n) {
        List<ServicePort> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            out.add(service(i, 0));
        }
        return out;
    }

    /** Service i with its endpoints shifted by generation (generation 0 = the initial set). */
    public static ServicePort service(int i, int generation) {
        InetAddress cip = ip(10, 96 + (i >> 16), (i >> 8) & 0xff, i & 0xff);
        List<Endpoint> eps = new ArrayList<>(5);
        for (int e = 0; e < 5; e++) {
            int k = i * 5 + e + (e == 0 ? generation * 7_000_001 : 0);
            InetAddress a = ip(10, 128 + ((k >> 16) & 0x7f), (k >> 8) & 0xff, k & 0xff);
            eps.add(new Endpoint(a, 8080, true, true, false, "node-" + (e % 3), "", List.of(), "", true, true));
        }
        // The NodePort range 30000-32767 holds 2 768 ports: beyond that (30 000 services) the rest stay
        // ClusterIP, as a real cluster's would; reusing ports made 3 232 services collide and be rejected.
        boolean nodePort = i % 5 == 0 && i / 5 < 2768;
        return new ServicePort(new ServicePortName("bench", "svc-" + i, "http", Protocol.TCP),
                nodePort ? ServiceType.NODE_PORT : ServiceType.CLUSTER_IP, false, "", List.of(cip), 80, "8080",
                nodePort ? 30000 + i / 5 : 0, List.of(), List.of(), null, 0, null, null, List.of(), 0, "",
                false, "", false, eps);
    }

    private static InetAddress ip(int a, int b, int c, int d) {
        return IpAddresses.fromBytes(new byte[] {(byte) a, (byte) b, (byte) c, (byte) d});
    }
}
