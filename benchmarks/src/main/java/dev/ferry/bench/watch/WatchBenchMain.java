package dev.ferry.bench.watch;

import dev.ferry.model.Endpoint;
import dev.ferry.model.ServicePort;
import dev.ferry.table.ServiceTable;
import dev.ferry.watch.ClusterWatcher;
import dev.ferry.watch.SyncPeriods;
import dev.ferry.watch.SyncStats;
import dev.ferry.watch.TableSink;
import dev.ferry.watch.TableUpdate;
import dev.ferry.watch.TableWriterSink;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.Watch;
import io.fabric8.kubernetes.client.Watcher;
import io.fabric8.kubernetes.client.WatcherException;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.TimeUnit;
import org.HdrHistogram.Histogram;

/**
 * End-to-end harness for the watcher: API change → table visible, and cold start. Three modes, each
 * in its own JVM so that the mock server's memory is not counted as Ferry's:
 * <pre>
 * serve SERVICES ENDPOINTS          fill a CRUD mock API server, print "READY port", run until stdin closes
 * latency URL UPDATES MIN_SYNC_MS INTERVAL_MS
 *                                   update ns-0/svc-0's slice every INTERVAL_MS and time each change
 *                                   until the table holds it (HdrHistogram, µs)
 * coldstart URL SERVICES            time from start to the first full table; RSS and heap after GC
 * </pre>
 * See benchmarks/RESULTS.md for the commands and results.
 */
public final class WatchBenchMain {
    private WatchBenchMain() {}

    public static void main(String[] args) throws Exception {
        if (args.length == 0) {
            usage();
        }
        switch (args[0]) {
            case "serve" -> serve(Integer.parseInt(args[1]), Integer.parseInt(args[2]));
            case "latency" -> latency(args[1], Integer.parseInt(args[2]), Integer.parseInt(args[3]), Integer.parseInt(args[4]));
            case "coldstart" -> coldstart(args[1], Integer.parseInt(args[2]));
            default -> usage();
        }
        System.exit(0);
    }

    private static void usage() {
        System.err.println("usage: WatchBenchMain serve SERVICES ENDPOINTS | latency URL UPDATES MIN_SYNC_MS INTERVAL_MS"
                + " | coldstart URL SERVICES");
        System.exit(2);
    }

    // ---- serve ---------------------------------------------------------------------------------

    private static void serve(int services, int endpoints) throws Exception {
        // The mock server logs every request through java.util.logging: that alone would dominate.
        java.util.logging.LogManager.getLogManager().reset();
        try (MockApiServer server = new MockApiServer(); KubernetesClient client = server.client()) {
            long t0 = System.nanoTime();
            // A few client threads keep the mock server busy while the others serialise JSON.
            java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(4);
            java.util.List<java.util.concurrent.Future<?>> done = new java.util.ArrayList<>();
            for (int t = 0; t < 4; t++) {
                int first = t;
                done.add(pool.submit(() -> {
                    for (int i = first; i < services; i += 4) {
                        client.resource(ApiFixture.service(i)).create();
                        client.resource(ApiFixture.slice(i, endpoints, null)).create();
                    }
                    return null;
                }));
            }
            for (java.util.concurrent.Future<?> f : done) {
                f.get(30, TimeUnit.MINUTES);
            }
            pool.shutdown();
            System.err.printf("created %d services and %d slices in %.1f s%n", services, services,
                    (System.nanoTime() - t0) / 1e9);
            System.out.println("READY " + server.port());
            System.out.flush();
            while (System.in.read() >= 0) {
                // run until the harness closes our stdin
            }
        }
    }

    private static KubernetesClient clientFor(String url) {
        return new KubernetesClientBuilder().withConfig(new ConfigBuilder().withMasterUrl(url)
                .withRequestTimeout(60_000).build()).build();
    }

    // ---- latency -------------------------------------------------------------------------------

    /** Wraps the table writer and notes when each marked change became visible in the table. */
    private static final class TimingSink implements TableSink {
        private final TableSink delegate;
        final ConcurrentSkipListMap<Integer, Long> pending = new ConcurrentSkipListMap<>();
        final Histogram micros = new Histogram(TimeUnit.MINUTES.toMicros(10), 3);
        volatile boolean recording;

        TimingSink(TableSink delegate) {
            this.delegate = delegate;
        }

        @Override
        public dev.ferry.table.ServiceTable.SyncResult apply(TableUpdate update) {
            dev.ferry.table.ServiceTable.SyncResult r = delegate.apply(update);
            long now = System.nanoTime();
            for (ServicePort sp : update.ports()) {
                if (!sp.name().name().equals("svc-0") || !sp.name().namespace().equals("ns-0")) {
                    continue;
                }
                for (Endpoint e : sp.endpoints()) {
                    byte[] a = e.address().getAddress();
                    if ((a[0] & 0xff) == 10 && (a[1] & 0xff) == 250) {
                        int index = ((a[2] & 0xff) << 8) | (a[3] & 0xff);
                        // Visible now: this change and every earlier one it superseded.
                        Map<Integer, Long> done = pending.headMap(index, true);
                        for (Long t0 : done.values()) {
                            if (recording) {
                                micros.recordValue(Math.min((now - t0) / 1_000, micros.getHighestTrackableValue()));
                            }
                        }
                        done.clear();
                    }
                }
            }
            return r;
        }

        @Override
        public void idle() {
            delegate.idle();
        }
    }

    private static void latency(String url, int updates, int minSyncMs, int intervalMs) throws Exception {
        Path dir = Files.createTempDirectory("ferry-bench-watch-");
        int warmup = Math.max(20, updates / 10);
        try (KubernetesClient client = clientFor(url); ServiceTable table = ServiceTable.create(dir)) {
            TimingSink sink = new TimingSink(new TableWriterSink(table));
            ClusterWatcher watcher = new ClusterWatcher(client, "node-0",
                    new SyncPeriods(Duration.ofMillis(minSyncMs), Duration.ofSeconds(30)), sink);
            watcher.start();
            if (!watcher.awaitFirstSync(Duration.ofMinutes(5))) {
                throw new IllegalStateException("no first sync within 5 min");
            }
            // Control: a bare fabric8 watch on the same slice in the same JVM, timed the same way. It
            // is the floor set by the API server and the HTTP/JSON path; the rest is Ferry's.
            ConcurrentSkipListMap<Integer, Long> controlPending = new ConcurrentSkipListMap<>();
            Histogram controlMicros = new Histogram(TimeUnit.MINUTES.toMicros(10), 3);
            Histogram writeMicros = new Histogram(TimeUnit.MINUTES.toMicros(10), 3);
            Watch control = client.discovery().v1().endpointSlices().inNamespace("ns-0").withName("svc-0-1")
                    .watch(new Watcher<EndpointSlice>() {
                        @Override
                        public void eventReceived(Action action, EndpointSlice slice) {
                            long now = System.nanoTime();
                            for (var e : slice.getEndpoints()) {
                                String a = e.getAddresses().get(0);
                                if (a.startsWith("10.250.")) {
                                    String[] p = a.split("\\.");
                                    int index = (Integer.parseInt(p[2]) << 8) | Integer.parseInt(p[3]);
                                    Map<Integer, Long> done = controlPending.headMap(index, true);
                                    if (sink.recording) {
                                        synchronized (controlMicros) {
                                            for (Long t0 : done.values()) {
                                                controlMicros.recordValue(Math.min((now - t0) / 1_000,
                                                        controlMicros.getHighestTrackableValue()));
                                            }
                                        }
                                    }
                                    done.clear();
                                }
                            }
                        }

                        @Override
                        public void onClose(WatcherException cause) {}
                    });
            long intervalNanos = TimeUnit.MILLISECONDS.toNanos(intervalMs);
            long start = System.nanoTime();
            for (int i = 0; i < warmup + updates; i++) {
                if (i == warmup) {
                    awaitDrained(sink);
                    sink.recording = true;
                    start = System.nanoTime();
                }
                int k = i < warmup ? i : i - warmup;
                EndpointSlice s = ApiFixture.slice(0, 10, "10.250." + ((i >>> 8) & 0xff) + "." + (i & 0xff));
                long t0 = System.nanoTime();
                sink.pending.put(i, t0);
                controlPending.put(i, t0);
                client.resource(s).update();
                if (sink.recording) {
                    writeMicros.recordValue((System.nanoTime() - t0) / 1_000);
                }
                long next = start + (k + 1) * intervalNanos;
                long sleep = next - System.nanoTime();
                if (sleep > 0) {
                    TimeUnit.NANOSECONDS.sleep(sleep);
                }
            }
            awaitDrained(sink);
            control.close();
            SyncStats stats = watcher.stats();
            Histogram npl = stats.networkProgrammingMillis();
            System.out.printf("latency minSyncPeriod=%d ms interval=%d ms updates=%d: p50 %.2f ms, p90 %.2f ms, p99 %.2f ms,"
                            + " max %.2f ms (n=%d); syncs %d (full %d); programming latency from trigger-time annotation"
                            + " p50 %d ms p99 %d ms%n",
                    minSyncMs, intervalMs, updates, sink.micros.getValueAtPercentile(50) / 1e3,
                    sink.micros.getValueAtPercentile(90) / 1e3, sink.micros.getValueAtPercentile(99) / 1e3,
                    sink.micros.getMaxValue() / 1e3, sink.micros.getTotalCount(), stats.syncs(), stats.fullSyncs(),
                    npl.getValueAtPercentile(50), npl.getValueAtPercentile(99));
            synchronized (controlMicros) {
                System.out.printf("latency   control (bare fabric8 watch event, same JVM): p50 %.2f ms, p90 %.2f ms, p99 %.2f ms"
                                + " (n=%d); API update call itself p50 %.2f ms p99 %.2f ms%n",
                        controlMicros.getValueAtPercentile(50) / 1e3, controlMicros.getValueAtPercentile(90) / 1e3,
                        controlMicros.getValueAtPercentile(99) / 1e3, controlMicros.getTotalCount(),
                        writeMicros.getValueAtPercentile(50) / 1e3, writeMicros.getValueAtPercentile(99) / 1e3);
            }
            watcher.close();
        } finally {
            deleteDir(dir);
        }
    }

    private static void awaitDrained(TimingSink sink) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!sink.pending.isEmpty()) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException(sink.pending.size() + " changes never reached the table within 60 s");
            }
            Thread.sleep(1);
        }
    }

    // ---- cold start ----------------------------------------------------------------------------

    private static void coldstart(String url, int services) throws Exception {
        Path dir = Files.createTempDirectory("ferry-bench-watch-");
        try (KubernetesClient client = clientFor(url); ServiceTable table = ServiceTable.create(dir)) {
            client.getKubernetesVersion(); // the HTTP client is up before the clock starts
            long heapBefore = usedHeapAfterGc();
            long rssBefore = rssKiB();
            ClusterWatcher watcher = new ClusterWatcher(client, "node-0", SyncPeriods.DEFAULTS, new TableWriterSink(table));
            long t0 = System.nanoTime();
            watcher.start();
            long listed = 0;
            long deadline = t0 + TimeUnit.MINUTES.toNanos(10);
            while (!watcher.hasSynced()) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("informers not synced within 10 min");
                }
                Thread.sleep(1);
            }
            listed = System.nanoTime() - t0;
            if (!watcher.awaitFirstSync(Duration.ofMinutes(10))) {
                throw new IllegalStateException("no first table within 10 min");
            }
            long first = System.nanoTime() - t0;
            // Read at once: the informers' add notifications arrive after their caches are filled, so a
            // partial sync (finding nothing changed) follows minSyncPeriod later.
            long firstSyncNanos = watcher.stats().lastSyncDurationNanos();
            long rssAfter = rssKiB();
            long heapAfter = usedHeapAfterGc();
            long rssAfterGc = rssKiB();
            if (table.reader().servicePortCount() != services) {
                throw new IllegalStateException("table holds " + table.reader().servicePortCount() + " service ports, expected "
                        + services);
            }
            System.out.printf("coldstart services=%d endpoints=%d: informers listed %.2f s, first full table %.2f s"
                            + " (first sync %.0f ms); heap used after GC %d MiB (before start %d MiB); RSS %d MiB at"
                            + " first table, %d MiB after GC (before start %d MiB); table off-heap %d MiB%n",
                    services, table.reader().endpointCount(), listed / 1e9, first / 1e9,
                    firstSyncNanos / 1e6, heapAfter >> 20, heapBefore >> 20, rssAfter >> 10,
                    rssAfterGc >> 10, rssBefore >> 10, table.bytesInUse() >> 20);
            watcher.close();
        } finally {
            deleteDir(dir);
        }
    }

    private static long usedHeapAfterGc() throws InterruptedException {
        for (int i = 0; i < 5; i++) {
            System.gc();
            Thread.sleep(50);
        }
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }

    private static long rssKiB() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        return -1;
    }

    private static void deleteDir(Path dir) throws IOException {
        try (var s = Files.walk(dir)) {
            s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }
}
