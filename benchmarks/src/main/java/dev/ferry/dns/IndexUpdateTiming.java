package dev.ferry.dns;

import dev.ferry.model.Endpoint;
import dev.ferry.model.IpAddresses;
import dev.ferry.model.Protocol;
import dev.ferry.model.ServicePort;
import dev.ferry.model.ServicePortName;
import dev.ferry.model.ServiceType;
import dev.ferry.select.EndpointSelector;
import dev.ferry.select.NodeInfo;
import dev.ferry.table.ServiceTable;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * What the first DNS query after a table change pays on its event loop: bringing the name/PTR
 * index up to date. N services (every tenth headless with 5 endpoints, the rest ClusterIP with 5
 * endpoints), then 300 single-service changes, each followed by one index update; prints the first
 * (full) build and p50/p90/max of the last 200 updates. In package dev.ferry.dns because the index
 * is package-private: it is an implementation detail of the responder, not an API.
 *
 * <p>Usage: {@code java $(cat jvm.flags) -cp benchmarks.jar dev.ferry.dns.IndexUpdateTiming SERVICES}
 */
public final class IndexUpdateTiming {
    private IndexUpdateTiming() {}

    public static void main(String[] args) throws Exception {
        int services = Integer.parseInt(args[0]);
        Path dir = Files.createTempDirectory("ferry-index-timing");
        NodeInfo node = new NodeInfo("node-a", "zone-a");
        try (ServiceTable table = ServiceTable.create(dir, 512L << 20, 2_000, System::currentTimeMillis)) {
            for (int i = 0; i < services; i++) {
                List<Endpoint> eps = new ArrayList<>();
                for (int e = 0; e < 5; e++) {
                    eps.add(new Endpoint(IpAddresses.parse("10." + (200 + e) + "." + (i / 250 % 250) + "." + (i % 250 + 1)),
                            8080, true, true, false, "node-a", "zone-a", List.of(), ""));
                }
                boolean headless = i % 10 == 9;
                List<java.net.InetAddress> ips = headless ? List.of()
                        : List.of(IpAddresses.parse("10.96." + (i / 250 % 250) + "." + (i % 250 + 1)));
                table.put(EndpointSelector.select(port("ns-" + i % 10, "svc-" + i, headless, ips, eps), node));
            }
            ServiceIndex index = new ServiceIndex(table.reader());
            long[] took = new long[300];
            for (int r = 0; r < took.length; r++) {
                long t0 = System.nanoTime();
                index.current();
                took[r] = System.nanoTime() - t0;
                table.put(EndpointSelector.select(port("bench", "change-" + r, false,
                        List.of(IpAddresses.parse("10.97." + r / 250 + "." + (r % 250 + 1))), List.of()), node));
            }
            long[] tail = Arrays.copyOfRange(took, 100, took.length);
            Arrays.sort(tail);
            System.out.printf("services=%d first (full) build %.1f ms; one-service change, last %d updates: "
                            + "p50 %.2f ms p90 %.2f ms max %.2f ms; decoded records %d%n",
                    services, took[0] / 1e6, tail.length, tail[tail.length / 2] / 1e6,
                    tail[tail.length * 9 / 10] / 1e6, tail[tail.length - 1] / 1e6, index.decodedRecords());
        } finally {
            try (Stream<Path> s = Files.walk(dir)) {
                s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    private static ServicePort port(String ns, String name, boolean headless, List<java.net.InetAddress> ips,
                                     List<Endpoint> eps) {
        return new ServicePort(new ServicePortName(ns, name, "http", Protocol.TCP), ServiceType.CLUSTER_IP, headless,
                "", ips, 80, "8080", 0, List.of(), List.of(), null, 0, null, null, List.of(), 0, "", false, "", false,
                eps);
    }
}
