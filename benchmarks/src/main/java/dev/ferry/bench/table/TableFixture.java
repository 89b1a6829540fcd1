package dev.ferry.bench.table;

import dev.ferry.model.Endpoint;
import dev.ferry.model.IpAddresses;
import dev.ferry.model.Protocol;
import dev.ferry.model.ServicePort;
import dev.ferry.model.ServicePortName;
import dev.ferry.model.ServiceType;
import dev.ferry.model.SessionAffinity;
import dev.ferry.model.TrafficPolicy;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * Realistic service ports for the table benchmarks, generated deterministically from an index so
 * that a benchmark can rebuild any frontend key (ClusterIP, port) or name without keeping the
 * ServicePort objects on the heap.
 *
 * <p>Service i: {@code ns-(i%50)/svc-i}, port name "http" (TCP), ClusterIP 10.96.0.0 + 1 + i (unique up
 * to about a million services, inside the default 10.96.0.0/12 service CIDR), port one of 80, 443,
 * 8080, 9090; endpoints are pod IPs 10.128.0.0 + i*endpoints + e on port 8080, ready, spread over 100
 * nodes and 3 zones with a topology hint for their zone, as EndpointSlices of a real cluster carry,
 * and selected for cluster traffic (as the endpoint selector leaves them before a write).
 */
final class TableFixture {
    private TableFixture() {}

    static final int CLUSTER_IP_BASE = (10 << 24) | (96 << 16); // 10.96.0.0
    static final int POD_IP_BASE = (10 << 24) | (128 << 16);    // 10.128.0.0
    /** Addresses in 10.112.0.0/12: inside no service's frontend, for miss lookups. */
    static final int MISS_IP_BASE = (10 << 24) | (112 << 16);
    private static final int[] PORTS = {80, 443, 8080, 9090};
    private static final String[] ZONES = {"zone-a", "zone-b", "zone-c"};

    static int clusterIp(int i) {
        return CLUSTER_IP_BASE + 1 + i;
    }

    static int port(int i) {
        return PORTS[i & 3];
    }

    static String namespace(int i) {
        return "ns-" + (i % 50);
    }

    static String name(int i) {
        return "svc-" + i;
    }

    static final String PORT_NAME = "http";

    static InetAddress ipv4(int bits) {
        return IpAddresses.fromBytes(new byte[] {(byte) (bits >>> 24), (byte) (bits >>> 16), (byte) (bits >>> 8), (byte) bits});
    }

    static ServicePort service(int i, int endpoints) {
        List<Endpoint> eps = new ArrayList<>(endpoints);
        for (int e = 0; e < endpoints; e++) {
            int node = (i * 7 + e * 13) % 100;
            String zone = ZONES[node % 3];
            eps.add(new Endpoint(ipv4(POD_IP_BASE + i * endpoints + e), 8080, true, true, false,
                    "node-" + node, zone, List.of(zone), "", true, false));
        }
        return new ServicePort(new ServicePortName(namespace(i), name(i), PORT_NAME, Protocol.TCP),
                ServiceType.CLUSTER_IP, false, "", List.of(ipv4(clusterIp(i))), port(i), "8080", 0, List.of(),
                List.of(), SessionAffinity.NONE, 0, TrafficPolicy.CLUSTER, TrafficPolicy.CLUSTER, List.of(), 0, "",
                false, "", false, eps);
    }

    static void deleteRecursively(Path dir) {
        if (dir == null || !Files.exists(dir)) {
            return;
        }
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
