package dev.ferry.bench.rules.nft;

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
 * Synthetic clusters for the nftables benchmarks: n ClusterIP services (10.96.0.0/12) with 5 ready
 * endpoints each (unique addresses in 10.128.0.0/9), selected for cluster and external traffic; the
 * first min(n/10, 2000) are NodePort services. Deterministic; stateless.
 */
public final class NftServiceFixture {
    public static final int ENDPOINTS = 5;

    private NftServiceFixture() {}

    public static List<ServicePort> services(int n) {
        List<ServicePort> out = new ArrayList<>(n);
        int nodePorts = Math.min(n / 10, 2000);
        for (int i = 0; i < n; i++) {
            List<Endpoint> eps = new ArrayList<>(ENDPOINTS);
            for (int j = 0; j < ENDPOINTS; j++) {
                eps.add(endpoint(i * ENDPOINTS + j));
            }
            out.add(service(i, i < nodePorts ? 30000 + i : 0, eps));
        }
        return out;
    }

    /** Service i with its endpoint j replaced by a fresh address (generation g), as one endpoint change. */
    public static ServicePort withOneEndpointChanged(ServicePort sp, int j, int g) {
        List<Endpoint> eps = new ArrayList<>(sp.endpoints());
        eps.set(j, endpoint((1 << 22) + g)); // addresses beyond any service's own
        return sp.withEndpoints(eps);
    }

    static ServicePort service(int i, int nodePort, List<Endpoint> eps) {
        InetAddress cip = IpAddresses.fromBytes(new byte[] {10, (byte) (96 + (i >> 16)), (byte) (i >> 8), (byte) i});
        return new ServicePort(new ServicePortName("ns" + (i % 100), "svc" + i, "http", Protocol.TCP),
                nodePort != 0 ? ServiceType.NODE_PORT : ServiceType.CLUSTER_IP, false, "", List.of(cip), 80, "8080",
                nodePort, List.of(), List.of(), SessionAffinity.NONE, 0, TrafficPolicy.CLUSTER, TrafficPolicy.CLUSTER,
                List.of(), 0, "", false, "", false, eps);
    }

    static Endpoint endpoint(int k) {
        InetAddress a = IpAddresses.fromBytes(new byte[] {10, (byte) (128 + (k >> 16)), (byte) (k >> 8), (byte) k});
        return new Endpoint(a, 8080, true, true, false, "node-a", "", List.of(), "", true, true);
    }
}
