package dev.ferry.bench.apiserver;

import dev.ferry.bench.watch.ApiFixture;
import dev.ferry.bench.watch.MockApiServer;
import io.fabric8.kubernetes.api.model.NodeAddress;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * Steady-state latency and idle CPU of the Ferry daemon (issue 16, "steady latency"): one or more
 * builds of {@code ferry} (e.g. main's and a branch's) run in turn, A B A B, each in a fresh network
 * namespace against the same fabric8 CRUD mock API server (in this JVM; its CPU is not Ferry's),
 * reached through a socat relay over a unix socket, with a short syncPeriod so that periodic syncs
 * happen while changes arrive. Per run:
 *
 * <ul>
 *   <li>first full sync: the nf_tables notices carrying the last service's ClusterIP and its last
 *       endpoint (benchmarks/apiserver/nft_marks.py in the namespace);</li>
 *   <li>one-endpoint changes: CHANGES JSON patches of one slice's first address, each to a new
 *       address, on services spread over the table, the next one GAP_MS after the previous reached the
 *       kernel (the notice carrying the new address); median, p90, max;</li>
 *   <li>Ferry's part of each change: the kernel notice minus the moment a plain fabric8 watch on
 *       the EndpointSlices, in this JVM, received the patched slice (the mock API server's own
 *       latency, which grows with its size, is the rest);</li>
 *   <li>idle CPU: utime + stime + reaped children's (nft, iptables-restore) from /proc/PID/stat over
 *       IDLE_S seconds without changes, as a percentage of one core; RSS at the end.</li>
 * </ul>
 *
 * Usage (root, from the repository root): {@code java -cp benchmarks.jar:MOCK_CP
 * dev.ferry.bench.apiserver.SteadyLatency SERVICES MODES SYNC_PERIOD_S CHANGES GAP_MS IDLE_S LABEL=FERRY_SCRIPT...},
 * e.g. {@code 10000 nftables,iptables 5 100 150 60 main=/tmp/base/ferry branch=./ferry}. The labels run
 * in the given order, twice (A B A B).
 */
public final class SteadyLatency {
    static final int ENDPOINTS = 5;
    static final String NODE = "node-0";

    record Result(String mode, String label, double firstSyncS, double[] changeMs, double[] ferryMs, double idleCpuPct,
                  long rssKb, String load) {}

    /** When the control watch first saw each address as a slice's first endpoint (System.nanoTime()). */
    static final java.util.Map<String, Long> watched = new java.util.concurrent.ConcurrentHashMap<>();

    public static void main(String[] args) throws Exception {
        if (args.length < 7) {
            System.err.println("usage: SteadyLatency SERVICES MODES SYNC_PERIOD_S CHANGES GAP_MS IDLE_S LABEL=FERRY_SCRIPT...");
            System.exit(2);
        }
        int n = Integer.parseInt(args[0]);
        String[] modes = args[1].split(",");
        int period = Integer.parseInt(args[2]);
        int changes = Integer.parseInt(args[3]);
        int gapMs = Integer.parseInt(args[4]);
        int idleS = Integer.parseInt(args[5]);
        List<String[]> builds = new ArrayList<>();
        for (int i = 6; i < args.length; i++) {
            builds.add(args[i].split("=", 2));
        }
        java.util.logging.LogManager.getLogManager().reset();
        List<Result> all = new ArrayList<>();
        try (MockApiServer server = new MockApiServer(); KubernetesClient api = server.client()) {
            load(api, n);
            api.discovery().v1().endpointSlices().inAnyNamespace().watch(new io.fabric8.kubernetes.client.Watcher<>() {
                @Override
                public void eventReceived(Action action, io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice s) {
                    long now = System.nanoTime();
                    if (s.getEndpoints() != null && !s.getEndpoints().isEmpty()) {
                        watched.putIfAbsent(s.getEndpoints().get(0).getAddresses().get(0), now);
                    }
                }

                @Override
                public void onClose(io.fabric8.kubernetes.client.WatcherException e) {
                    System.err.println("control watch closed: " + e);
                }
            });
            int[] counter = {0};
            for (String mode : modes) {
                for (int round = 0; round < 2; round++) {
                    for (String[] b : builds) {
                        Result r = measure(api, server.port(), n, mode.trim(), period, changes, gapMs, idleS, b[0],
                                Path.of(b[1]).toAbsolutePath(), counter);
                        all.add(r);
                        System.out.println("RESULT " + row(r));
                    }
                }
            }
        }
        System.out.println();
        System.out.println("| mode | build | first full sync s | one-endpoint change ms, API patch to kernel, median / p90 / max (n)"
                + " | Ferry's part ms (watch event to kernel), median / p90 / max | idle CPU % of a core | RSS MB | load average (1 min) |");
        System.out.println("|---|---|---:|---:|---:|---:|---:|---|");
        for (Result r : all) {
            System.out.println(row(r));
        }
    }

    static String row(Result r) {
        return String.format(Locale.ROOT, "| %s | %s | %.1f | %s | %s | %.2f | %.0f | %s |", r.mode, r.label, r.firstSyncS,
                stats(r.changeMs, true), stats(r.ferryMs, false), r.idleCpuPct, r.rssKb / 1024.0, r.load);
    }

    static String stats(double[] v, boolean count) {
        double[] c = Arrays.stream(v).filter(x -> !Double.isNaN(x)).sorted().toArray();
        if (c.length == 0) return "—";
        return String.format(Locale.ROOT, "%.0f / %.0f / %.0f", c[c.length / 2],
                c[(int) Math.min(c.length - 1, Math.ceil(c.length * 0.9) - 1)], c[c.length - 1])
                + (count ? " (" + c.length + (c.length < v.length ? " of " + v.length + " seen" : "") + ")" : "");
    }

    static void load(KubernetesClient api, int n) throws Exception {
        long t0 = System.nanoTime();
        api.nodes().resource(new NodeBuilder().withNewMetadata().withName(NODE)
                .withLabels(java.util.Map.of("kubernetes.io/hostname", NODE)).endMetadata()
                .withNewStatus().withAddresses(new NodeAddress("127.0.0.1", "InternalIP")).endStatus().build()).create();
        ExecutorService pool = Executors.newFixedThreadPool(4);
        List<Future<?>> done = new ArrayList<>();
        for (int t = 0; t < 4; t++) {
            int first = t;
            done.add(pool.submit(() -> {
                for (int i = first; i < n; i += 4) {
                    api.resource(ApiFixture.service(i)).create();
                    api.resource(ApiFixture.slice(i, ENDPOINTS, null)).create();
                }
                return null;
            }));
        }
        for (Future<?> f : done) {
            f.get(30, TimeUnit.MINUTES);
        }
        pool.shutdown();
        System.out.printf(Locale.ROOT, "loaded %d services × %d endpoints in %.1f s%n", n, ENDPOINTS, (System.nanoTime() - t0) / 1e9);
    }

    static Result measure(KubernetesClient api, int apiPort, int n, String mode, int period, int changes, int gapMs, int idleS,
                          String label, Path ferry, int[] counter) throws Exception {
        String ns = "fst" + HexFormat.of().toHexDigits((short) ThreadLocalRandom.current().nextInt());
        Path work = Files.createTempDirectory("ferry-steady-" + ns);
        Path sock = work.resolve("api.sock");
        List<Process> started = new ArrayList<>();
        Process proxy = null;
        SideBySide.Marks marks = null;
        Path root = Path.of("").toAbsolutePath();
        try {
            SideBySide.exec(30, "ip", "netns", "add", ns);
            SideBySide.exec(30, "ip", "-n", ns, "link", "set", "lo", "up");
            started.add(new ProcessBuilder("socat", "UNIX-LISTEN:" + sock + ",fork,unlink-early,mode=600", "TCP:127.0.0.1:" + apiPort)
                    .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start());
            for (int i = 0; i < 100 && !Files.exists(sock); i++) Thread.sleep(50);
            started.add(new ProcessBuilder("ip", "netns", "exec", ns, "socat", "TCP-LISTEN:16443,bind=127.0.0.1,fork,reuseaddr",
                    "UNIX-CONNECT:" + sock).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start());
            for (int i = 0; i < 100; i++) {
                if (SideBySide.exec(10, "ip", "netns", "exec", ns, "ss", "-Hltn", "sport = :16443").contains("16443")) break;
                Thread.sleep(50);
            }
            Path kubeconfig = work.resolve("kubeconfig");
            Files.writeString(kubeconfig, "apiVersion: v1\nkind: Config\nclusters:\n- name: mock\n  cluster:\n"
                    + "    server: http://127.0.0.1:16443\ncontexts:\n- name: mock\n  context:\n    cluster: mock\n    user: mock\n"
                    + "current-context: mock\nusers:\n- name: mock\n  user:\n    token: bench\n");
            Path config = work.resolve("config.yaml");
            Files.writeString(config, "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n"
                    + "clusterCIDR: 10.244.0.0/16\niptables:\n  syncPeriod: " + period + "s\nnftables:\n  syncPeriod: " + period + "s\n");
            marks = SideBySide.Marks.start(ns, root.resolve("benchmarks/apiserver/nft_marks.py"));
            marks.arm("svc", SideBySide.hex(api.services().inNamespace(ApiFixture.namespace(n - 1)).withName("svc-" + (n - 1)).get()
                    .getSpec().getClusterIP()));
            marks.arm("ep", SideBySide.hex(api.discovery().v1().endpointSlices().inNamespace(ApiFixture.namespace(n - 1))
                    .withName("svc-" + (n - 1) + "-1").get().getEndpoints().get(ENDPOINTS - 1).getAddresses().get(0)));
            List<String> cmd = new ArrayList<>(List.of("ip", "netns", "exec", ns, ferry.toString(), "run", "--kubeconfig",
                    kubeconfig.toString(), "--config", config.toString(), "--mode", mode, "--node-name", NODE, "--state-dir",
                    work.resolve("state").toString(), "--healthz-bind-address", "127.0.0.1:10256", "--metrics-bind-address",
                    "127.0.0.1:10249"));
            if (mode.equals("iptables")) cmd.addAll(List.of("--iptables-backend", "nft"));
            Path log = work.resolve("ferry.log");
            String load = Files.readString(Path.of("/proc/loadavg")).split(" ")[0];
            long t0 = System.nanoTime();
            proxy = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
            long svc = marks.await("svc", t0, 600, proxy);
            long ep = svc < 0 ? -1 : marks.await("ep", t0, 600, proxy);
            if (svc < 0 || ep < 0) {
                throw new IllegalStateException(label + " " + mode + ": no first sync within 600 s: " + SideBySide.tail(log));
            }
            double first = (Math.max(svc, ep) - t0) / 1e9;
            // The daemon's pid: ip netns exec execs ferry's script, which execs java.
            long pid = proxy.pid();
            Thread.sleep(TimeUnit.SECONDS.toMillis(period));
            double[] ms = new double[changes];
            double[] ferryMs = new double[changes];
            for (int k = 0; k < changes; k++) {
                int i = (int) ((k * 7919L + 13) % (n - 1));
                int c = counter[0]++;
                String ip = "10.99." + (c >> 8 & 255) + "." + (c & 255);
                marks.arm("c" + c, SideBySide.hex(ip));
                long c0 = System.nanoTime();
                api.discovery().v1().endpointSlices().inNamespace(ApiFixture.namespace(i)).withName("svc-" + i + "-1")
                        .patch(PatchContext.of(PatchType.JSON),
                                "[{\"op\":\"replace\",\"path\":\"/endpoints/0/addresses/0\",\"value\":\"" + ip + "\"}]");
                long seen = marks.await("c" + c, c0, 120, proxy);
                ms[k] = seen < 0 ? Double.NaN : (seen - c0) / 1e6;
                Long w = watched.get(ip);
                ferryMs[k] = seen < 0 || w == null ? Double.NaN : (seen - w) / 1e6;
                Thread.sleep(gapMs);
            }
            Thread.sleep(TimeUnit.SECONDS.toMillis(period)); // let the last change's follow-up settle
            double cpu0 = SideBySide.cpu(pid);
            long i0 = System.nanoTime();
            Thread.sleep(TimeUnit.SECONDS.toMillis(idleS));
            double idle = (SideBySide.cpu(pid) - cpu0) / ((System.nanoTime() - i0) / 1e9) * 100;
            String loads = load + " at start, " + Files.readString(Path.of("/proc/loadavg")).split(" ")[0] + " at end"
                    + (marks.overflowed ? "; netlink overflow" : "");
            return new Result(mode, label, first, ms, ferryMs, idle, SideBySide.rss(pid), loads);
        } finally {
            if (proxy != null) {
                proxy.destroy();
                if (!proxy.waitFor(30, TimeUnit.SECONDS)) proxy.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
            if (marks != null) marks.close();
            for (Process p : started) {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
                p.waitFor(10, TimeUnit.SECONDS);
            }
            SideBySide.exec(60, "ip", "netns", "del", ns);
        }
    }
}
