// Cold start of the `ferry run --kubeconfig` daemon process against fabric8's mock API server
// (CRUD mode, in this process): time from starting the JVM to the first full table (read from the
// daemon's own /metrics), and the daemon's resident memory then and after a settle period.
// Run through benchmarks/daemon/run.sh (single-file source launch; needs cli's test class path).
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

public class ColdStart {
    public static void main(String[] args) throws Exception {
        java.util.logging.Logger.getLogger("").setLevel(java.util.logging.Level.WARNING); // the mock server logs every request
        for (var h : java.util.logging.Logger.getLogger("").getHandlers()) h.setLevel(java.util.logging.Level.WARNING);
        String[] sizes = args[0].split(",");     // e.g. 1000,10000,1000,10000 (A B A B)
        int endpoints = Integer.parseInt(args[1]);
        String daemonCp = args[2];
        String flags = args.length > 3 ? args[3] : "";
        System.out.printf("%-9s %-9s %-14s %-14s %-14s %-12s%n", "services", "endpoints", "first_table_s", "rss_first_MiB",
                "rss_settled_MiB", "heap_used/committed_MiB");
        for (String s : sizes) {
            run(Integer.parseInt(s), endpoints, daemonCp, flags);
        }
    }

    static void run(int services, int endpoints, String daemonCp, String flags) throws Exception {
        KubernetesMockServer server = new KubernetesMockServer(new Context(), new MockWebServer(), new HashMap<>(),
                new KubernetesCrudDispatcher(), false);
        server.init(InetAddress.getLoopbackAddress(), 0);
        Path dir = Files.createTempDirectory("ferry-coldstart");
        Process p = null;
        try (KubernetesClient client = server.createClient()) {
            client.nodes().resource(new NodeBuilder().withNewMetadata().withName("node-0")
                    .addToLabels("topology.kubernetes.io/zone", "zone-0").endMetadata().build()).create();
            ExecutorService pool = Executors.newFixedThreadPool(4);
            List<Future<?>> done = new ArrayList<>();
            for (int i = 0; i < services; i++) {
                int n = i;
                done.add(pool.submit(() -> {
                    String ns = "ns-" + (n % 50);
                    String ip = ipv4(0x0A600000 + 1 + n);
                    client.services().inNamespace(ns).resource(new ServiceBuilder().withNewMetadata().withName("svc-" + n)
                            .withNamespace(ns).endMetadata().withNewSpec().withType("ClusterIP").withClusterIP(ip).withClusterIPs(ip)
                            .addNewPort().withName("http").withPort(80).withTargetPort(new IntOrString(8080)).withProtocol("TCP").endPort()
                            .endSpec().build()).create();
                    EndpointSliceBuilder b = new EndpointSliceBuilder().withNewMetadata().withName("svc-" + n + "-1").withNamespace(ns)
                            .withLabels(Map.of("kubernetes.io/service-name", "svc-" + n)).endMetadata()
                            .withAddressType("IPv4").addNewPort().withName("http").withPort(8080).withProtocol("TCP").endPort();
                    for (int j = 0; j < endpoints; j++) {
                        b.addToEndpoints(new EndpointBuilder().withAddresses(ipv4(0x0A800000 + 1 + n * endpoints + j))
                                .withNewConditions().withReady(true).withServing(true).withTerminating(false).endConditions()
                                .withNodeName("node-" + (j % 5)).withZone("zone-" + (j % 3)).build());
                    }
                    client.discovery().v1().endpointSlices().inNamespace(ns).resource(b.build()).create();
                    return null;
                }));
            }
            for (Future<?> f : done) f.get(10, TimeUnit.MINUTES);
            pool.shutdown();

            int healthz = freePort();
            int metrics = freePort();
            Path kubeconfig = dir.resolve("kubeconfig");
            Files.writeString(kubeconfig, "apiVersion: v1\nkind: Config\nclusters:\n- name: m\n  cluster: {server: \"" + client.getMasterUrl()
                    + "\"}\nusers:\n- name: u\n  user: {token: t}\ncontexts:\n- name: m\n  context: {cluster: m, user: u}\ncurrent-context: m\n");
            Path config = dir.resolve("proxy.yaml");
            Files.writeString(config, "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n"
                    + "healthzBindAddress: 127.0.0.1:" + healthz + "\nmetricsBindAddress: 127.0.0.1:" + metrics + "\n");
            List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
            if (!flags.isBlank()) cmd.addAll(Arrays.asList(flags.trim().split("\\s+")));
            cmd.addAll(List.of("-XX:MaxRAMPercentage=50", "-cp", daemonCp, "dev.ferry.cli.FerryCommand", "run", "--kubeconfig",
                    kubeconfig.toString(), "--config", config.toString(), "--node-name", "node-0", "--state-dir",
                    dir.resolve("state").toString(), "--exit-after", "600"));
            long t0 = System.nanoTime();
            p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(dir.resolve("ferry.log").toFile()).start();
            HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
            String want = "ferry_service_table_service_ports " + (double) services;
            long deadline = t0 + TimeUnit.MINUTES.toNanos(5);
            double firstTable = -1;
            while (System.nanoTime() < deadline && p.isAlive()) {
                try {
                    HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + metrics + "/metrics"))
                            .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
                    if (r.body().lines().anyMatch(want::equals)) {
                        firstTable = (System.nanoTime() - t0) / 1e9;
                        break;
                    }
                } catch (java.io.IOException e) {
                    // not listening yet
                }
                Thread.sleep(50);
            }
            if (firstTable < 0) {
                throw new IllegalStateException("no full table within 5 min:\n" + Files.readString(dir.resolve("ferry.log")));
            }
            long rssFirst = rssKiB(p.pid());
            Thread.sleep(10_000);
            long rssSettled = rssKiB(p.pid());
            String heap = heapUsed(p.pid());
            System.out.printf("%-9d %-9d %-14.2f %-14.0f %-14.0f %-12s%n", services, endpoints, firstTable, rssFirst / 1024.0,
                    rssSettled / 1024.0, heap);
        } finally {
            if (p != null) {
                p.destroy();
                if (!p.waitFor(20, TimeUnit.SECONDS)) p.destroyForcibly();
            }
            server.destroy();
            try (var files = Files.walk(dir)) {
                files.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
            }
        }
    }

    static long rssKiB(long pid) throws Exception {
        for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
            if (line.startsWith("VmRSS:")) return Long.parseLong(line.replaceAll("[^0-9]", ""));
        }
        return -1;
    }

    /** Heap in use after a full GC, from jcmd (what the informers and the tracker really keep). */
    static String heapUsed(long pid) throws Exception {
        Path jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd");
        run(jcmd.toString(), Long.toString(pid), "GC.run");
        String out = run(jcmd.toString(), Long.toString(pid), "GC.heap_info");
        var m = java.util.regex.Pattern.compile("total (\\d+)K, used (\\d+)K").matcher(out);
        return m.find() ? String.format("%.0f/%.0f", Long.parseLong(m.group(2)) / 1024.0, Long.parseLong(m.group(1)) / 1024.0) : "?";
    }

    static String run(String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        p.waitFor(30, TimeUnit.SECONDS);
        return out;
    }

    static int freePort() throws Exception {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    static String ipv4(int v) {
        return ((v >>> 24) & 255) + "." + ((v >>> 16) & 255) + "." + ((v >>> 8) & 255) + "." + (v & 255);
    }
}
