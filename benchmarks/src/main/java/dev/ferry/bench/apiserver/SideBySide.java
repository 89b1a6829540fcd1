package dev.ferry.bench.apiserver;

import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.NodeAddress;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceBuilder;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * The real kube-proxy v1.32 and Ferry, one after the other, on the same objects in the real
 * kube-apiserver of ../shared/k8s (it must be running: DIR/start.sh): N ClusterIP services × 5
 * ready endpoints (one EndpointSlice each) are loaded once per size; then for each mode (nftables,
 * iptables) each proxy runs in a fresh network namespace reaching the API server through a socat
 * relay over a unix socket (as DIR/kube-proxy-netns.sh does), as user system:kube-proxy, and is
 * measured:
 *
 * <ul>
 *   <li>first full sync: process start → the kernel's nf_tables netlink notice (NEWRULE or
 *       NEWSETELEM) carrying the last service's ClusterIP and the one carrying its last endpoint
 *       (the later of the two), heard by benchmarks/apiserver/nft_marks.py in the namespace;</li>
 *   <li>one-endpoint change: PATCH of one slice's first address to a new address → the notice
 *       carrying the new address (≥ 5 changes on different services, 1.5 s apart; median and max);</li>
 *   <li>RSS (VmRSS) after the sync and after the changes, and the peak (VmHWM); CPU seconds (user +
 *       system, with reaped children such as iptables-restore and nft) when the first sync reached
 *       the kernel and at the end.</li>
 * </ul>
 *
 * Usage (root): {@code java -cp benchmarks/target/benchmarks.jar dev.ferry.bench.apiserver.SideBySide
 * K8S_DIR SIZES MODES [CHANGES] [CAP_SECONDS] [PROXIES]}, e.g. {@code /var/lib/ferry-e2e/k8s 1000,5000 nftables,iptables 5 720}.
 * Ferry runs as {@code ./ferry run}, so FERRY_JAVA_OPTS / FERRY_JAVA_HOME in this process's environment reach it.
 * Prints a Markdown table row per (size, mode, proxy) and the ratios against the issue's targets.
 */
public final class SideBySide {
    static final String NS = "ferry-bench";
    static final String NODE = "bench-node";
    static final int ENDPOINTS = 5;

    final Path k8s;
    final Path root = Path.of("").toAbsolutePath();
    final KubernetesClient api;
    final int changes;
    final int capSeconds;
    /** Both proxies' syncPeriod ({@code -Dbench.syncPeriod=5s}); empty: their default, 30 s. */
    final String syncPeriod = System.getProperty("bench.syncPeriod", "");
    /** When the harness's own watch first saw each address as a slice's first endpoint (System.nanoTime()). */
    final Map<String, Long> watched = new ConcurrentHashMap<>();
    /**
     * The next change's address in 10.99.0.0/16. Starts from the clock, not 0: the slices keep the
     * addresses of the previous invocation's changes, and patching a slice to the address it already
     * holds is no change at all (no watch event, nothing reaches the kernel: the run waited out 120 s
     * per change and recorded NaN).
     */
    int changeCounter = (int) (System.currentTimeMillis() / 1000 % 65536);

    SideBySide(Path k8s, int changes, int capSeconds) {
        this.k8s = k8s;
        this.changes = changes;
        this.capSeconds = capSeconds;
        this.api = new KubernetesClientBuilder().withConfig(Config.fromKubeconfig(k8s.resolve("kubeconfig").toFile())).build();
    }

    /** One run; fullSyncSec < 0 when the first sync did not reach the kernel within capSeconds. */
    record Result(int n, String mode, String proxy, double fullSyncSec, double[] changeMs, long rssSyncKb, long rssEndKb,
                  double cpuSec, int capSeconds, String note, double cpuSyncSec, long hwmKb) {}

    public static void main(String[] args) throws Exception {
        if (args.length < 3) {
            System.err.println("usage: SideBySide K8S_DIR SIZES(1000,5000) MODES(nftables,iptables) [CHANGES=5] [CAP_SECONDS=720]"
                    + " [PROXIES=kube-proxy,ferry] (ferry@DIR: the ./ferry of checkout DIR, to compare two builds)");
            System.exit(2);
        }
        SideBySide b = new SideBySide(Path.of(args[0]), args.length > 3 ? Integer.parseInt(args[3]) : 5,
                args.length > 4 ? Integer.parseInt(args[4]) : 720);
        List<String> proxies = List.of((args.length > 5 ? args[5] : "kube-proxy,ferry").split(","));
        List<Result> all = new ArrayList<>();
        b.prepare();
        for (String size : args[1].split(",")) {
            int n = Integer.parseInt(size.trim());
            b.load(n);
            for (String mode : args[2].split(",")) {
                for (String proxy : proxies) {
                    Result r = b.measure(n, mode.trim(), proxy);
                    all.add(r);
                    System.out.println("RESULT " + row(r));
                }
                System.out.println("RATIO " + ratio(all, n, mode.trim()));
            }
        }
        System.out.println();
        System.out.println("| services | mode | proxy | first full sync s | CPU s of the first sync | one-endpoint change ms (median / max, n)"
                + " | RSS after sync MB | RSS after changes MB | peak RSS MB | CPU s at the end | note |");
        System.out.println("|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---|");
        for (Result r : all) System.out.println(row(r));
        System.out.println();
        System.out.println("| services | mode | first full sync Ferry/kube-proxy | CPU s of the first sync Ferry/kube-proxy"
                + " | change median kube-proxy/Ferry | RSS after sync Ferry/kube-proxy | RSS after changes Ferry/kube-proxy |");
        System.out.println("|---:|---|---:|---:|---:|---:|---:|");
        Set<String> done = new HashSet<>();
        for (Result r : all) {
            if (done.add(r.n + r.mode)) System.out.println(ratio(all, r.n, r.mode));
        }
        b.api.close();
    }

    static String row(Result r) {
        double[] c = r.changeMs.clone();
        Arrays.sort(c);
        String ch = c.length == 0 ? "—" : String.format(Locale.ROOT, "%.0f / %.0f (%d)", c[c.length / 2], c[c.length - 1], c.length);
        String full = r.fullSyncSec < 0 ? "did not finish in " + r.capSeconds + " s"
                : String.format(Locale.ROOT, "%.2f", r.fullSyncSec);
        String cpuSync = r.fullSyncSec < 0 ? "—" : String.format(Locale.ROOT, "%.1f", r.cpuSyncSec);
        return String.format(Locale.ROOT, "| %d | %s | %s | %s | %s | %s | %.0f | %.0f | %.0f | %.1f | %s |", r.n, r.mode, r.proxy, full,
                cpuSync, ch, r.rssSyncKb / 1024.0, r.rssEndKb / 1024.0, r.hwmKb / 1024.0, r.cpuSec, r.note);
    }

    static String ratio(List<Result> all, int n, String mode) {
        Result k = null;
        Result f = null;
        for (Result r : all) {
            if (r.n == n && r.mode.equals(mode)) {
                if (r.proxy.equals("ferry")) f = r;
                else k = r;
            }
        }
        if (k == null || f == null) return "";
        // Ferry / kube-proxy for sizes and times (≤ 1.0× means Ferry is smaller or faster), kube-proxy / Ferry for the change
        // median (the issue's "≥ 20× faster"); "<" when kube-proxy did not finish within the cap.
        boolean kDone = k.fullSyncSec > 0;
        boolean fDone = f.fullSyncSec > 0;
        return String.format(Locale.ROOT, "| %d | %s | %s | %s | %s | %s | %s |", n, mode,
                !fDone ? "—" : kDone ? fmt(f.fullSyncSec / k.fullSyncSec) : "< " + fmt(f.fullSyncSec / k.capSeconds),
                !fDone || !kDone ? "—" : fmt(f.cpuSyncSec / k.cpuSyncSec),
                k.changeMs.length == 0 || f.changeMs.length == 0 ? "—" : fmt(median(k.changeMs) / median(f.changeMs)),
                fmt((double) f.rssSyncKb / k.rssSyncKb), fmt((double) f.rssEndKb / k.rssEndKb));
    }

    static String fmt(double x) {
        return String.format(Locale.ROOT, "%.2f×", x);
    }

    static double median(double[] v) {
        double[] c = v.clone();
        Arrays.sort(c);
        return c[c.length / 2];
    }

    // ---- objects --------------------------------------------------------------------------------

    void prepare() {
        // The API server's own share of a change: a plain watch in this process sees the patched slice
        // about when the proxy's informer does; the kernel notice minus this is the proxy's part.
        // From a listed resourceVersion: a watch without one asks for the initial events as a stream,
        // which this API server refuses (RequestWatchProgress is disabled).
        String rv = api.discovery().v1().endpointSlices().inNamespace(NS).list().getMetadata().getResourceVersion();
        api.discovery().v1().endpointSlices().inNamespace(NS).watch(
                new io.fabric8.kubernetes.api.model.ListOptionsBuilder().withResourceVersion(rv).build(),
                new io.fabric8.kubernetes.client.Watcher<>() {
            @Override
            public void eventReceived(Action action, EndpointSlice s) {
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
        if (api.namespaces().withName(NS).get() == null) {
            api.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName(NS).endMetadata().build()).create();
        }
        if (api.nodes().withName(NODE).get() == null) {
            api.nodes().resource(new NodeBuilder().withNewMetadata().withName(NODE)
                    .withLabels(Map.of("kubernetes.io/hostname", NODE)).endMetadata().build()).create();
        }
        api.nodes().withName(NODE).editStatus(x -> new NodeBuilder(x).editOrNewStatus().withAddresses(
                new NodeAddress("127.0.0.1", "InternalIP"), new NodeAddress(NODE, "Hostname")).endStatus().build());
    }

    static String name(int i) {
        return String.format(Locale.ROOT, "s%05d", i);
    }

    /** Endpoint j of service i: 10.128.0.0/9, unique per (i, j). */
    static String endpointIp(int i, int j) {
        int idx = i * ENDPOINTS + j;
        return "10." + (128 + (idx >> 16)) + "." + ((idx >> 8) & 255) + "." + (idx & 255);
    }

    /** Creates the services and slices 0..n-1 that do not exist yet (16 requests in flight). */
    void load(int n) throws Exception {
        Set<String> have = new HashSet<>();
        api.services().inNamespace(NS).list().getItems().forEach(s -> have.add(s.getMetadata().getName()));
        Set<String> haveSlices = new HashSet<>();
        api.discovery().v1().endpointSlices().inNamespace(NS).list().getItems().forEach(s -> haveSlices.add(s.getMetadata().getName()));
        long t0 = System.nanoTime();
        ExecutorService pool = Executors.newFixedThreadPool(16);
        List<Future<?>> futures = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            final int idx = i;
            if (!have.contains(name(i))) {
                futures.add(pool.submit(() -> api.services().inNamespace(NS).resource(service(idx)).create()));
            }
            if (!haveSlices.contains(name(i) + "-1")) {
                futures.add(pool.submit(() -> api.discovery().v1().endpointSlices().inNamespace(NS).resource(slice(idx)).create()));
            }
        }
        for (Future<?> f : futures) f.get();
        pool.shutdown();
        System.out.printf(Locale.ROOT, "loaded %d services × %d endpoints (%d objects created in %.1f s)%n", n, ENDPOINTS,
                futures.size(), (System.nanoTime() - t0) / 1e9);
    }

    static Service service(int i) {
        return new ServiceBuilder().withNewMetadata().withName(name(i)).withNamespace(NS).endMetadata()
                .withNewSpec().withType("ClusterIP").addNewPort().withName("http").withPort(80).withProtocol("TCP")
                .withNewTargetPort(8080).endPort().endSpec().build();
    }

    static EndpointSlice slice(int i) {
        EndpointSliceBuilder b = new EndpointSliceBuilder().withNewMetadata().withName(name(i) + "-1").withNamespace(NS)
                .withLabels(Map.of("kubernetes.io/service-name", name(i))).endMetadata().withAddressType("IPv4")
                .addNewPort().withName("http").withPort(8080).withProtocol("TCP").endPort();
        for (int j = 0; j < ENDPOINTS; j++) {
            b.addNewEndpoint().withAddresses(endpointIp(i, j)).withNewConditions().withReady(true).endConditions()
                    .withNodeName(NODE).endEndpoint();
        }
        return b.build();
    }

    static String hex(String ip) throws IOException {
        return HexFormat.of().formatHex(InetAddress.getByName(ip).getAddress());
    }

    // ---- one run --------------------------------------------------------------------------------

    Result measure(int n, String mode, String proxy) throws Exception {
        String ns = "fb" + HexFormat.of().toHexDigits((short) ThreadLocalRandom.current().nextInt());
        Path work = Files.createTempDirectory("ferry-bench-" + ns);
        Path sock = work.resolve("apiserver.sock");
        List<Process> started = new ArrayList<>();
        Process proxyProcess = null;
        Marks marks = null;
        try {
            exec(30, "ip", "netns", "add", ns);
            exec(30, "ip", "-n", ns, "link", "set", "lo", "up");
            started.add(new ProcessBuilder("socat", "UNIX-LISTEN:" + sock + ",fork,unlink-early,mode=600", "TCP:127.0.0.1:6443")
                    .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start());
            for (int i = 0; i < 100 && !Files.exists(sock); i++) Thread.sleep(50);
            started.add(new ProcessBuilder("ip", "netns", "exec", ns, "socat", "TCP-LISTEN:6443,bind=127.0.0.1,fork,reuseaddr",
                    "UNIX-CONNECT:" + sock).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start());
            for (int i = 0; i < 100; i++) {
                if (exec(10, "ip", "netns", "exec", ns, "ss", "-Hltn", "sport = :6443").contains("6443")) break;
                Thread.sleep(50);
            }
            marks = Marks.start(ns, root.resolve("benchmarks/apiserver/nft_marks.py"));
            Service last = api.services().inNamespace(NS).withName(name(n - 1)).get();
            marks.arm("svc", hex(last.getSpec().getClusterIP()));
            marks.arm("ep", hex(endpointIp(n - 1, ENDPOINTS - 1)));

            List<String> cmd = new ArrayList<>(List.of("ip", "netns", "exec", ns));
            if (proxy.equals("kube-proxy")) {
                cmd.addAll(List.of(k8s.resolve("bin/kube-proxy").toString(), "--kubeconfig=" + k8s.resolve("kube-proxy.kubeconfig"),
                        "--hostname-override=" + NODE, "--cluster-cidr=10.244.0.0/16", "--conntrack-max-per-core=0",
                        "--conntrack-tcp-timeout-established=0", "--conntrack-tcp-timeout-close-wait=0",
                        "--metrics-bind-address=127.0.0.1:10249", "--healthz-bind-address=127.0.0.1:10256", "--v=2",
                        "--proxy-mode=" + mode));
                // kube-proxy 1.32 has no nftables-specific flag; this is its only sync-period flag (that its
                // nftables mode follows it too was not checked).
                if (!syncPeriod.isEmpty()) cmd.add("--iptables-sync-period=" + syncPeriod);
            } else {
                Path config = work.resolve("kube-proxy-config.yaml");
                Files.writeString(config, "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n"
                        + "clusterCIDR: 10.244.0.0/16\n"
                        + (syncPeriod.isEmpty() ? "" : "iptables:\n  syncPeriod: " + syncPeriod + "\nnftables:\n  syncPeriod: " + syncPeriod + "\n"));
                // "ferry@DIR" runs the launcher of another checkout: a same-run A/B of two builds.
                Path launcher = proxy.startsWith("ferry@") ? Path.of(proxy.substring(6)).resolve("ferry") : root.resolve("ferry");
                cmd.addAll(List.of(launcher.toString(), "run", "--kubeconfig", k8s.resolve("kube-proxy.kubeconfig").toString(),
                        "--config", config.toString(), "--mode", mode, "--node-name", NODE, "--state-dir", work.resolve("state").toString(),
                        "--healthz-bind-address", "127.0.0.1:10256", "--metrics-bind-address", "127.0.0.1:10249"));
                if (mode.equals("iptables")) cmd.addAll(List.of("--iptables-backend", "nft"));
            }
            Path log = work.resolve(proxy.replaceAll("[^A-Za-z0-9.-]", "_") + ".log");
            String load = "load " + Files.readString(Path.of("/proc/loadavg")).split(" ")[0];
            long t0 = System.nanoTime();
            proxyProcess = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
            long pid = proxyProcess.pid();
            long svc = marks.await("svc", t0, capSeconds, proxyProcess);
            long ep = svc < 0 ? -1 : marks.await("ep", t0, capSeconds, proxyProcess);
            if (svc < 0 || ep < 0) {
                String why = load + (proxyProcess.isAlive() ? "" : "; exited: " + tail(log));
                return new Result(n, mode, proxy, -1, new double[0], rss(pid), rss(pid), cpu(pid), capSeconds, why, -1, hwm(pid));
            }
            double cpuSync = cpu(pid); // read within a few ms of the notice: the first sync's CPU (JVM start-up included)
            double full = (Math.max(svc, ep) - t0) / 1e9;
            Thread.sleep(3000); // let follow-up syncs (health, metrics) settle before reading RSS
            long rssSync = rss(pid);
            double[] change = new double[changes];
            double[] part = new double[changes];
            Map<String, double[]> m0 = metrics(ns);
            for (int k = 0; k < changes; k++) {
                int i = (int) ((k + 1) * (long) (n - 1) / (changes + 1)); // spread over the services, never the last one
                String current = api.discovery().v1().endpointSlices().inNamespace(NS).withName(name(i) + "-1").get()
                        .getEndpoints().get(0).getAddresses().get(0);
                String ip;
                do {
                    ip = "10.99." + (changeCounter >> 8 & 255) + "." + (changeCounter & 255);
                    changeCounter++;
                } while (ip.equals(current));
                marks.arm("change" + k, hex(ip));
                long c0 = System.nanoTime();
                api.discovery().v1().endpointSlices().inNamespace(NS).withName(name(i) + "-1").patch(PatchContext.of(PatchType.JSON),
                        "[{\"op\":\"replace\",\"path\":\"/endpoints/0/addresses/0\",\"value\":\"" + ip + "\"}]");
                long seen = marks.await("change" + k, c0, 120, proxyProcess);
                change[k] = seen < 0 ? Double.NaN : (seen - c0) / 1e6;
                Long w = watched.get(ip);
                part[k] = seen < 0 || w == null ? Double.NaN : (seen - w) / 1e6;
                Thread.sleep(1500);
            }
            String note = load + " at start, " + Files.readString(Path.of("/proc/loadavg")).split(" ")[0] + " at end"
                    + (marks.overflowed ? "; netlink overflow (notices dropped)" : "") + parts(part, m0, metrics(ns));
            return new Result(n, mode, proxy, full, change, rssSync, rss(pid), cpu(pid), capSeconds, note, cpuSync, hwm(pid));
        } finally {
            if (proxyProcess != null) {
                proxyProcess.destroy();
                if (!proxyProcess.waitFor(30, TimeUnit.SECONDS)) proxyProcess.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
            if (marks != null) marks.close();
            for (Process p : started) {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
                p.waitFor(10, TimeUnit.SECONDS);
            }
            exec(60, "ip", "netns", "del", ns);
        }
    }

    static String tail(Path log) throws IOException {
        List<String> lines = Files.readAllLines(log);
        return String.join(" / ", lines.subList(Math.max(0, lines.size() - 3), lines.size()));
    }

    static long rss(long pid) throws IOException {
        return status(pid, "VmRSS:");
    }

    /** VmHWM: the process's peak RSS (its children, e.g. nft, not included). */
    static long hwm(long pid) throws IOException {
        return status(pid, "VmHWM:");
    }

    static long status(long pid, String field) throws IOException {
        Path status = Path.of("/proc/" + pid + "/status");
        if (!Files.exists(status)) return 0;
        for (String l : Files.readAllLines(status)) {
            if (l.startsWith(field)) return Long.parseLong(l.replaceAll("\\D+", ""));
        }
        return 0;
    }

    /** utime + stime + cutime + cstime of pid, in seconds (USER_HZ = 100). */
    static double cpu(long pid) throws IOException {
        Path stat = Path.of("/proc/" + pid + "/stat");
        if (!Files.exists(stat)) return 0;
        String s = Files.readString(stat);
        String[] f = s.substring(s.lastIndexOf(')') + 2).split(" ");
        return (Long.parseLong(f[11]) + Long.parseLong(f[12]) + Long.parseLong(f[13]) + Long.parseLong(f[14])) / 100.0;
    }

    /** The sums and counts of the histograms both proxies export, from the proxy's /metrics in namespace ns. */
    static Map<String, double[]> metrics(String ns) {
        Map<String, double[]> out = new java.util.TreeMap<>();
        try {
            String text = exec(10, "ip", "netns", "exec", ns, "curl", "-s", "--max-time", "5", "http://127.0.0.1:10249/metrics");
            for (String line : text.split("\n")) {
                if (line.startsWith("#")) continue;
                String[] f = line.split(" ");
                if (f.length < 2) continue;
                String name = f[0];
                int at = name.endsWith("_sum") ? 0 : name.endsWith("_count") ? 1 : -1;
                if (at < 0 || name.contains("{")) continue;
                String base = name.substring(0, name.lastIndexOf('_'));
                if (!base.startsWith("kubeproxy_sync_") && !base.startsWith("ferry_service_table_write_duration")) continue;
                out.computeIfAbsent(base, x -> new double[2])[at] = Double.parseDouble(f[1]);
            }
        } catch (IOException | InterruptedException | RuntimeException e) {
            out.clear();
        }
        return out;
    }

    /**
     * Where the changes' time went: the kernel notice minus the harness watch's event (the proxy's part,
     * median / max), and each duration histogram's mean over the syncs made during the changes.
     */
    static String parts(double[] part, Map<String, double[]> before, Map<String, double[]> after) {
        double[] p = Arrays.stream(part).filter(x -> !Double.isNaN(x)).sorted().toArray();
        StringBuilder b = new StringBuilder();
        if (p.length > 0) {
            b.append(String.format(Locale.ROOT, "; watch event → kernel %.0f / %.0f ms", p[p.length / 2], p[p.length - 1]));
        }
        for (Map.Entry<String, double[]> e : after.entrySet()) {
            double[] a = e.getValue();
            double[] z = before.getOrDefault(e.getKey(), new double[2]);
            double n = a[1] - z[1];
            if (n > 0) {
                b.append(String.format(Locale.ROOT, "; %s %.1f ms × %.0f", e.getKey().replace("kubeproxy_sync_", "")
                        .replace("_duration_seconds", ""), (a[0] - z[0]) / n * 1000, n));
            }
        }
        return b.toString();
    }

    static String exec(int timeoutSeconds, String... argv) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS) || p.exitValue() != 0) {
            p.destroyForcibly();
            throw new IOException(String.join(" ", argv) + " failed: " + new String(out, StandardCharsets.UTF_8));
        }
        return new String(out, StandardCharsets.UTF_8);
    }

    /** nft_marks.py in the namespace: arm a label with address bytes, await its first HIT. */
    static final class Marks implements AutoCloseable {
        final Process process;
        final OutputStream in;
        final Map<String, Long> hits = new ConcurrentHashMap<>();
        final Set<String> armed = ConcurrentHashMap.newKeySet();
        volatile boolean ready;
        volatile boolean overflowed;

        Marks(Process p) {
            this.process = p;
            this.in = p.getOutputStream();
        }

        static Marks start(String ns, Path script) throws Exception {
            Process p = new ProcessBuilder("ip", "netns", "exec", ns, "python3", script.toString())
                    .redirectError(ProcessBuilder.Redirect.INHERIT).start();
            Marks m = new Marks(p);
            Thread t = new Thread(m::read, "nft-marks-" + ns);
            t.setDaemon(true);
            t.start();
            for (int i = 0; i < 300 && !m.ready; i++) Thread.sleep(100);
            if (!m.ready) throw new IllegalStateException(script + " did not start in " + ns);
            return m;
        }

        void arm(String label, String hex) throws Exception {
            in.write((label + " " + hex + "\n").getBytes(StandardCharsets.UTF_8));
            in.flush();
            for (int i = 0; i < 500 && !armed.contains(label); i++) Thread.sleep(10);
            if (!armed.contains(label)) throw new IllegalStateException("marker " + label + " not armed");
        }

        /** CLOCK_MONOTONIC nanos of the label's first HIT, or -1 after timeoutSeconds from start (or when proc died). */
        long await(String label, long start, int timeoutSeconds, Process proc) throws InterruptedException {
            long deadline = start + TimeUnit.SECONDS.toNanos(timeoutSeconds);
            while (System.nanoTime() < deadline) {
                Long t = hits.get(label);
                if (t != null) return t;
                if (!proc.isAlive()) return -1;
                Thread.sleep(2);
            }
            return -1;
        }

        private void read() {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    if (line.equals("ready")) {
                        ready = true;
                    } else if (line.startsWith("ARMED ")) {
                        armed.add(line.substring(6));
                    } else if (line.endsWith(" OVERFLOW")) {
                        overflowed = true;
                    } else {
                        String[] f = line.split(" ");
                        if (f.length == 3 && f[1].equals("HIT")) hits.putIfAbsent(f[2], Long.parseLong(f[0]));
                    }
                }
            } catch (IOException | NumberFormatException e) {
                // closed
            }
        }

        @Override
        public void close() throws InterruptedException {
            process.destroyForcibly();
            process.waitFor(10, TimeUnit.SECONDS);
        }
    }
}
