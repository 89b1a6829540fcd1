package dev.ferry.bench.dns;

import dev.ferry.dns.DnsOptions;
import dev.ferry.dns.DnsServer;
import dev.ferry.model.Endpoint;
import dev.ferry.model.IpAddresses;
import dev.ferry.model.Protocol;
import dev.ferry.model.ServicePort;
import dev.ferry.model.ServicePortName;
import dev.ferry.model.ServiceType;
import dev.ferry.select.EndpointSelector;
import dev.ferry.select.NodeInfo;
import dev.ferry.table.ServiceTable;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * The DNS benchmark's Ferry side and its data: fills a service table with N services (ClusterIP
 * svc-i.ns-(i%10) with a named port, every tenth one headless with 3 endpoints), writes the same
 * data as an RFC 1035 zone file for the reference server and dnsperf query files, then serves the
 * zone on 127.0.0.1:PORT until killed.
 *
 * <p>Usage: {@code java -cp benchmarks.jar dev.ferry.bench.dns.ServeZone OUT_DIR SERVICES PORT THREADS}
 */
public final class ServeZone {
    private ServeZone() {}

    public static void main(String[] args) throws Exception {
        Path out = Path.of(args[0]);
        int services = Integer.parseInt(args[1]);
        int port = Integer.parseInt(args[2]);
        int threads = Integer.parseInt(args[3]);
        Files.createDirectories(out);
        Path stateDir = Files.createTempDirectory("ferry-dns-bench");
        ServiceTable table = ServiceTable.create(stateDir, 256L << 20, 2_000, System::currentTimeMillis);
        NodeInfo node = new NodeInfo("node-a", "zone-a");
        try (PrintWriter zone = new PrintWriter(Files.newBufferedWriter(out.resolve("cluster.local.zone")))) {
            zone.println("$ORIGIN cluster.local.");
            zone.println("$TTL 5");
            zone.println("@ IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1 7200 1800 86400 5");
            zone.println("@ IN NS ns.dns.cluster.local.");
            zone.println("ns.dns IN A 127.0.0.1");
            zone.println("dns-version IN TXT \"1.1.0\"");
            for (int i = 0; i < services; i++) {
                String ns = "ns-" + (i % 10);
                String name = "svc-" + i;
                String owner = name + "." + ns + ".svc";
                if (i % 10 == 9) {
                    List<Endpoint> eps = new ArrayList<>();
                    for (int e = 0; e < 3; e++) {
                        String ip = "10." + (200 + e) + "." + (i / 250 % 250) + "." + (i % 250 + 1);
                        eps.add(new Endpoint(IpAddresses.parse(ip), 8080, true, true, false, "node-a", "zone-a",
                                List.of(), ""));
                        zone.println(owner + " IN A " + ip);
                        String label = ip.replace('.', '-');
                        zone.println(label + "." + owner + " IN A " + ip);
                        zone.println("_http._tcp." + owner + " IN SRV 0 33 8080 " + label + "." + owner + ".cluster.local.");
                    }
                    table.put(EndpointSelector.select(port(ns, name, true, List.of(), eps), node));
                } else {
                    String ip = "10.96." + (i / 250 % 250) + "." + (i % 250 + 1);
                    zone.println(owner + " IN A " + ip);
                    zone.println("_http._tcp." + owner + " IN SRV 0 100 80 " + owner + ".cluster.local.");
                    table.put(EndpointSelector.select(port(ns, name, false, List.of(ip), List.of()), node));
                }
            }
        }
        writeQueries(out, services);
        DnsServer server = new DnsServer(table.reader(),
                DnsOptions.of(new InetSocketAddress("127.0.0.1", port)).withThreads(threads));
        server.start();
        System.out.println("READY " + server.udpAddress() + " services=" + services + " threads=" + threads);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            System.out.println("counters " + server.counters());
            server.close();
            try {
                table.close();
                try (var s = Files.walk(stateDir)) {
                    s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
                }
            } catch (IOException ignored) {
                // best effort on the way out
            }
        }));
        Thread.currentThread().join();
    }

    private static ServicePort port(String ns, String name, boolean headless, List<String> ips, List<Endpoint> eps) {
        return new ServicePort(new ServicePortName(ns, name, "http", Protocol.TCP), ServiceType.CLUSTER_IP, headless, "",
                ips.stream().map(IpAddresses::parse).toList(), 80, "8080", 0, List.of(), List.of(), null, 0, null, null,
                List.of(), 0, "", false, "", false, eps);
    }

    /** queries-a.txt: A for existing services; queries-mix.txt: 70% A, 10% SRV, 10% NXDOMAIN, 10% AAAA (NODATA). */
    private static void writeQueries(Path out, int services) throws IOException {
        Random r = new Random(42);
        try (PrintWriter a = new PrintWriter(Files.newBufferedWriter(out.resolve("queries-a.txt")));
             PrintWriter mix = new PrintWriter(Files.newBufferedWriter(out.resolve("queries-mix.txt")));
             PrintWriter ptr = new PrintWriter(Files.newBufferedWriter(out.resolve("queries-ptr.txt")))) {
            for (int q = 0; q < 100_000; q++) {
                int i = r.nextInt(services);
                String fqdn = "svc-" + i + ".ns-" + (i % 10) + ".svc.cluster.local";
                a.println(fqdn + " A");
                int k = r.nextInt(10);
                if (k < 7) mix.println(fqdn + " A");
                else if (k == 7) mix.println("_http._tcp." + fqdn + " SRV");
                else if (k == 8) mix.println("missing-" + i + ".ns-" + (i % 10) + ".svc.cluster.local A");
                else mix.println(fqdn + " AAAA");
                if (i % 10 != 9) {
                    ptr.println((i % 250 + 1) + "." + (i / 250 % 250) + ".96.10.in-addr.arpa PTR");
                }
            }
        }
    }
}
