package dev.ferry.bench.rules.nft;

import dev.ferry.model.Endpoint;
import dev.ferry.model.IpAddresses;
import dev.ferry.model.Protocol;
import dev.ferry.model.ServicePort;
import dev.ferry.model.ServicePortName;
import dev.ferry.model.ServiceType;
import dev.ferry.model.SessionAffinity;
import dev.ferry.model.TrafficPolicy;
import dev.ferry.rules.KernelTool;
import dev.ferry.rules.SyncReport;
import dev.ferry.rules.nft.NftOptions;
import dev.ferry.rules.nft.NftSyncer;
import dev.ferry.table.ServicePortView;
import dev.ferry.table.ServiceTable;
import dev.ferry.table.TableChange;
import dev.ferry.table.TableMirror;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Issue 17, same-run A/B of Ferry's own part of a one-endpoint change in nftables mode, from the table
 * write to the payload handed to nft (the nft process itself excluded: its time is equal for both):
 * A, the path before the change feed (walk the table's index, reuse decoded records by stamp, hand
 * the whole list to the syncer, which compares every service port); B, the feed path (the loop's
 * TableMirror decodes the one changed record, the syncer compares only the names the feed gives).
 * The two alternate in each round. No kernel and no root: nft is replaced by a process that reads
 * the payload and succeeds.
 *
 * <p>Usage: {@code java -cp benchmarks.jar dev.ferry.bench.rules.nft.FeedPathTiming [SERVICES] [CHANGES]}
 * (defaults 10000 and 100).
 */
public final class FeedPathTiming {
    private FeedPathTiming() {}

    private static ServicePort service(int i, int salt) {
        List<Endpoint> eps = new ArrayList<>();
        for (int e = 0; e < 5; e++) {
            eps.add(new Endpoint(IpAddresses.parse("10." + (64 + i / 62_500 % 60) + "." + (i / 250 % 250) + "."
                    + (e * 40 + salt % 40 + 1)), 8080, true, true, false, "node-a", "", List.of(), ""));
        }
        return new ServicePort(new ServicePortName("ns" + i % 50, "svc-" + i, "http", Protocol.TCP), ServiceType.CLUSTER_IP,
                false, "", List.of(IpAddresses.parse("10.96." + (i / 250 % 250) + "." + (i % 250 + 1))), 80, "8080", 0,
                List.of(), List.of(), SessionAffinity.NONE, 0, TrafficPolicy.CLUSTER, TrafficPolicy.CLUSTER, List.of(), 0, "",
                false, "", false, eps);
    }

    public static void main(String[] args) throws Exception {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 10_000;
        int changes = args.length > 1 ? Integer.parseInt(args[1]) : 100;
        int warmup = 20;
        Path dir = Files.createTempDirectory("ferry-feed-timing");
        try (ServiceTable table = ServiceTable.create(dir, 1L << 30, ServiceTable.DEFAULT_GRACE_MILLIS, System::currentTimeMillis)) {
            List<ServicePort> all = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                all.add(service(i, 0));
            }
            table.replaceAll(all);
            KernelTool swallow = new KernelTool(List.of("sh", "-c", "cat >/dev/null", "sh"), Duration.ofSeconds(60));
            NftSyncer listPath = new NftSyncer(NftOptions.defaults(), swallow);
            NftSyncer feedPath = new NftSyncer(NftOptions.defaults(), swallow);
            WholeList whole = new WholeList(table);
            TableMirror mirror = TableMirror.of(table);
            listPath.sync(whole.ports(), true);
            feedPath.sync(mirror.ports(), mirror.catchUp(), true);
            long[] a = new long[changes];
            long[] b = new long[changes];
            Random random = new Random(1);
            for (int k = 0; k < changes + warmup; k++) {
                table.put(service(random.nextInt(n), k + 1));
                long ta = 0;
                long tb = 0;
                for (int pass = 0; pass < 2; pass++) {
                    if ((pass == 0) == (k % 2 == 0)) {
                        long t0 = System.nanoTime();
                        SyncReport r = listPath.sync(whole.ports(), false);
                        ta = System.nanoTime() - t0 - r.applyNanos();
                    } else {
                        long t0 = System.nanoTime();
                        TableChange c = mirror.catchUp();
                        SyncReport r = feedPath.sync(mirror.ports(), c, false);
                        tb = System.nanoTime() - t0 - r.applyNanos();
                    }
                }
                if (k >= warmup) {
                    a[k - warmup] = ta;
                    b[k - warmup] = tb;
                }
            }
            Arrays.sort(a);
            Arrays.sort(b);
            System.out.printf("| %d | %d | %.2f / %.2f | %.2f / %.2f |%n", n, changes, a[changes / 2] / 1e6, a[changes * 9 / 10] / 1e6,
                    b[changes / 2] / 1e6, b[changes * 9 / 10] / 1e6);
        } finally {
            try (var files = Files.walk(dir)) {
                files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    /** The path before the feed: the whole table as a list, records decoded only when their stamp moved. */
    private static final class WholeList {
        private final ServiceTable table;
        private Map<Long, ServicePort> decoded = new HashMap<>();

        WholeList(ServiceTable table) {
            this.table = table;
        }

        List<ServicePort> ports() {
            List<ServicePort> out = new ArrayList<>();
            Map<Long, ServicePort> current = new HashMap<>(decoded.size() * 2 + 16);
            table.reader().forEach(new ServicePortView(), v -> {
                ServicePort sp = decoded.get(v.stamp());
                if (sp == null) {
                    sp = v.toServicePort();
                    if (!v.isValid()) {
                        return;
                    }
                }
                current.put(v.stamp(), sp);
                out.add(sp);
            });
            decoded = current;
            return List.copyOf(out);
        }
    }
}
