package dev.ferry.cli;

import dev.ferry.daemon.cluster.MockApi;

import static org.junit.jupiter.api.Assertions.*;

import dev.ferry.cli.FerryCommand;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * `ferry run --kubeconfig` as a real process against fabric8's mock API server in CRUD mode, probed
 * over HTTP on loopback: /healthz, /livez (kube-proxy's meaning, node eligibility included) and
 * /metrics (kube-proxy's names, the table following API changes).
 */
class RunKubeconfigTest {
    static final KubernetesSerialization YAML = new KubernetesSerialization();
    static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @TempDir
    Path dir;

    MockApi api;
    KubernetesClient client;
    Path kubeconfig;

    @BeforeEach
    void startApi() throws IOException {
        api = MockApi.start();
        client = api.client();
        kubeconfig = dir.resolve("kubeconfig");
        Files.writeString(kubeconfig, """
                apiVersion: v1
                kind: Config
                clusters:
                - name: mock
                  cluster: {server: "%s"}
                users:
                - name: ferry
                  user: {token: not-a-secret}
                contexts:
                - name: mock
                  context: {cluster: mock, user: ferry}
                current-context: mock
                """.formatted(client.getMasterUrl()));
    }

    @AfterEach
    void stopApi() {
        api.close();
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    static HttpResponse<String> get(int port, String path) {
        try {
            return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).timeout(Duration.ofSeconds(10)).build(),
                    HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        }
    }

    static Service service(String name, String ip) {
        return YAML.unmarshal("""
                apiVersion: v1
                kind: Service
                metadata: {name: %s, namespace: default}
                spec:
                  type: ClusterIP
                  clusterIP: %s
                  clusterIPs: [%s]
                  ports: [{name: http, port: 80, targetPort: 8080, protocol: TCP}]
                """.formatted(name, ip, ip), Service.class);
    }

    static EndpointSlice slice(String service, String ip, Instant changed) {
        return YAML.unmarshal("""
                apiVersion: discovery.k8s.io/v1
                kind: EndpointSlice
                metadata:
                  name: %s-abcde
                  namespace: default
                  labels: {kubernetes.io/service-name: %s}
                  annotations: {endpoints.kubernetes.io/last-change-trigger-time: "%s"}
                addressType: IPv4
                ports: [{name: http, port: 8080, protocol: TCP}]
                endpoints:
                - addresses: [%s]
                  conditions: {ready: true, serving: true, terminating: false}
                  nodeName: node-a
                """.formatted(service, service, changed, ip), EndpointSlice.class);
    }

    /** The ferry daemon as a child JVM with Ferry's JVM flags, bounded by --exit-after and killed in close(). */
    record Daemon(Process process, Path log) implements AutoCloseable {
        static Daemon start(Path log, String... args) throws IOException {
            String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
            List<String> cmd = new ArrayList<>();
            cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
            String flags = System.getenv("FERRY_JVM_FLAGS");
            if (flags != null && !flags.isBlank()) cmd.addAll(Arrays.asList(flags.trim().split("\\s+")));
            cmd.addAll(List.of("-cp", cp, FerryCommand.class.getName()));
            cmd.addAll(Arrays.asList(args));
            cmd.addAll(List.of("--exit-after", "120"));
            ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
            pb.environment().remove("KUBERNETES_SERVICE_HOST");
            pb.environment().remove("NODE_NAME");
            return new Daemon(pb.start(), log);
        }

        String output() {
            try {
                return Files.readString(log);
            } catch (IOException e) {
                return "<no log: " + e + ">";
            }
        }

        /** Polls {@code port}{@code path} until the answer satisfies {@code ok}, at most 60 s; fails with the daemon's log. */
        HttpResponse<String> await(String what, int port, String path, Predicate<HttpResponse<String>> ok) throws InterruptedException {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            HttpResponse<String> last = null;
            while (System.nanoTime() < deadline) {
                if (!process.isAlive()) {
                    fail("ferry exited (" + process.exitValue() + ") before " + what + ":\n" + output());
                }
                last = get(port, path);
                if (last != null && ok.test(last)) return last;
                Thread.sleep(100);
            }
            return fail("timed out waiting for " + what + "; last answer: " + (last == null ? "none" : last.statusCode() + " " + last.body())
                    + "\n" + output());
        }

        int terminate() throws InterruptedException {
            process.destroy();
            if (!process.waitFor(20, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                fail("ferry did not stop on SIGTERM:\n" + output());
            }
            return process.exitValue();
        }

        @Override
        public void close() throws InterruptedException {
            if (process.isAlive()) {
                process.destroyForcibly();
                process.waitFor(10, TimeUnit.SECONDS);
            }
        }
    }

    /** The first event with this reason in the namespace, waited for at most 30 s. */
    io.fabric8.kubernetes.api.model.events.v1.Event awaitEvent(Daemon d, String namespace, String reason)
            throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (System.nanoTime() < deadline) {
            for (var e : client.events().v1().events().inNamespace(namespace).list().getItems()) {
                if (reason.equals(e.getReason())) return e;
            }
            Thread.sleep(100);
        }
        return fail("no " + reason + " event in " + namespace + ":\n" + d.output());
    }

    static boolean hasLine(HttpResponse<String> r, String line) {
        return r.statusCode() == 200 && r.body().lines().anyMatch(line::equals);
    }

    @Test
    void theDaemonWatchesTheApiAndServesHealthAndMetricsOverHttp() throws Exception {
        int healthz = freePort();
        int metrics = freePort();
        Path config = dir.resolve("proxy.yaml");
        Files.writeString(config, """
                apiVersion: kubeproxy.config.k8s.io/v1alpha1
                kind: KubeProxyConfiguration
                healthzBindAddress: 127.0.0.1:%d
                metricsBindAddress: 127.0.0.1:%d
                iptables: {syncPeriod: 30s, minSyncPeriod: 100ms}
                """.formatted(healthz, metrics));
        client.nodes().resource(new NodeBuilder().withNewMetadata().withName("node-a")
                .addToLabels("topology.kubernetes.io/zone", "zone-1").endMetadata().build()).create();
        client.services().inNamespace("default").resource(service("web", "10.96.0.10")).create();
        client.discovery().v1().endpointSlices().inNamespace("default").resource(slice("web", "10.244.1.5", Instant.now())).create();

        try (Daemon d = Daemon.start(dir.resolve("ferry.log"), "run", "--kubeconfig", kubeconfig.toString(),
                "--config", config.toString(), "--node-name", "node-a", "--mode", "table-only",
                "--state-dir", dir.resolve("state").toString())) {
            d.await("web in the table", metrics, "/metrics", r -> hasLine(r, "ferry_service_table_service_ports 1.0"));

            HttpResponse<String> h = d.await("/healthz", healthz, "/healthz", r -> r.statusCode() == 200);
            assertEquals("application/json", h.headers().firstValue("Content-Type").orElse(""));
            assertTrue(h.body().matches("\\{\"lastUpdated\": \"[0-9-]+ [0-9:.]+ \\+0000 UTC\",\"currentTime\": \"[0-9-]+ [0-9:.]+ \\+0000 UTC\", \"nodeEligible\": true}"),
                    h.body());
            HttpResponse<String> l = get(healthz, "/livez");
            assertEquals(200, l.statusCode(), l.body());
            assertFalse(l.body().contains("nodeEligible"), l.body());

            HttpResponse<String> m = get(metrics, "/metrics");
            for (String name : List.of("kubeproxy_sync_proxy_rules_duration_seconds_count", "kubeproxy_sync_full_proxy_rules_duration_seconds_count",
                    "kubeproxy_sync_proxy_rules_last_timestamp_seconds", "kubeproxy_network_programming_duration_seconds_count",
                    "kubeproxy_proxy_healthz_total{code=\"200\"}", "ferry_object_rejections_total", "ferry_rejected_objects_current",
                    "ferry_service_table_endpoints 1.0")) {
                assertTrue(m.body().contains(name), "missing " + name + " in\n" + m.body());
            }

            // An API change reaches the table; a malformed object is skipped and counted, not fatal.
            client.services().inNamespace("default").resource(service("api", "10.96.0.11")).create();
            client.discovery().v1().endpointSlices().inNamespace("default").resource(slice("api", "10.244.2.7", Instant.now())).create();
            d.await("api in the table", metrics, "/metrics", r -> hasLine(r, "ferry_service_table_service_ports 2.0"));
            d.await("the new slice's programming latency", metrics, "/metrics", r -> r.statusCode() == 200
                    && !r.body().contains("kubeproxy_network_programming_duration_seconds_count 0"));
            Service bad = service("broken", "10.96.0.12");
            bad.getSpec().getPorts().get(0).setPort(70000);
            client.services().inNamespace("default").resource(bad).create();
            d.await("the bad service counted", metrics, "/metrics",
                    r -> r.body().contains("ferry_object_rejections_total{reason=\"InvalidPort\"} 1"));
            // ... and its owner sees why in the Service's events; the node has kube-proxy's "Starting" event.
            String brokenUid = client.services().inNamespace("default").withName("broken").get().getMetadata().getUid();
            io.fabric8.kubernetes.api.model.events.v1.Event skipped = awaitEvent(d, "default", "InvalidPort");
            assertEquals("Warning", skipped.getType());
            assertEquals("Service", skipped.getRegarding().getKind());
            assertEquals("broken", skipped.getRegarding().getName());
            assertEquals(brokenUid, skipped.getRegarding().getUid(), "kubectl describe matches events by uid");
            assertTrue(skipped.getNote().contains("spec.ports[0].port"), skipped.getNote());
            assertEquals("ferry-node-a", skipped.getReportingInstance());
            io.fabric8.kubernetes.api.model.events.v1.Event starting = awaitEvent(d, "default", "Starting");
            assertEquals("Node", starting.getRegarding().getKind());
            assertEquals("node-a", starting.getRegarding().getName());
            assertEquals("Starting ferry (table-only mode).", starting.getNote());

            // An eTP Local load balancer service gets kube-proxy's health check on its healthCheckNodePort.
            int hcPort = freePort();
            Service lb = YAML.unmarshal("""
                    apiVersion: v1
                    kind: Service
                    metadata: {name: shop, namespace: default}
                    spec:
                      type: LoadBalancer
                      clusterIP: 10.96.0.20
                      clusterIPs: [10.96.0.20]
                      externalTrafficPolicy: Local
                      healthCheckNodePort: %d
                      ports: [{name: http, port: 80, targetPort: 8080, nodePort: 31080, protocol: TCP}]
                    """.formatted(hcPort), Service.class);
            client.services().inNamespace("default").resource(lb).create();
            client.discovery().v1().endpointSlices().inNamespace("default").resource(slice("shop", "10.244.1.9", Instant.now())).create();
            HttpResponse<String> hc = d.await("the service health check", hcPort, "/", r -> r.statusCode() == 200);
            assertTrue(hc.body().contains("\"localEndpoints\": 1"), hc.body());
            // A health-check port another process holds: kube-proxy's FailedToStartServiceHealthcheck on the Service.
            try (ServerSocket squatter = new ServerSocket(0)) {
                int taken = squatter.getLocalPort();
                client.services().inNamespace("default").resource(YAML.unmarshal("""
                        apiVersion: v1
                        kind: Service
                        metadata: {name: taken, namespace: default}
                        spec:
                          type: LoadBalancer
                          clusterIP: 10.96.0.21
                          clusterIPs: [10.96.0.21]
                          externalTrafficPolicy: Local
                          healthCheckNodePort: %d
                          ports: [{name: http, port: 80, targetPort: 8080, nodePort: 31081, protocol: TCP}]
                        """.formatted(taken), Service.class)).create();
                var failed = awaitEvent(d, "default", "FailedToStartServiceHealthcheck");
                assertEquals("taken", failed.getRegarding().getName());
                assertEquals("Listen", failed.getAction());
                assertTrue(failed.getNote().startsWith("node node-a failed to start healthcheck \"default/taken\" on port "
                        + taken + ": "), failed.getNote());
            }

            // The autoscaler marks the node for deletion: /healthz (readiness, load balancers) fails, /livez does not.
            Node tainted = client.nodes().withName("node-a").get();
            tainted.setSpec(new io.fabric8.kubernetes.api.model.NodeSpecBuilder().addNewTaint()
                    .withKey("ToBeDeletedByClusterAutoscaler").withEffect("NoSchedule").endTaint().build());
            client.nodes().resource(tainted).update();
            HttpResponse<String> unready = d.await("/healthz 503", healthz, "/healthz", r -> r.statusCode() == 503);
            assertTrue(unready.body().endsWith("\"nodeEligible\": false}"), unready.body());
            assertEquals(200, get(healthz, "/livez").statusCode());

            assertEquals(0, d.terminate(), d.output());
            assertTrue(d.output().contains("watching the API server at " + client.getMasterUrl()), d.output());
        }
    }

    @Test
    void nodePortAddressesPrimaryServesNodePortsOnTheNodeObjectsInternalIps() throws Exception {
        int healthz = freePort();
        Path config = dir.resolve("proxy.yaml");
        Files.writeString(config, """
                apiVersion: kubeproxy.config.k8s.io/v1alpha1
                kind: KubeProxyConfiguration
                healthzBindAddress: 127.0.0.1:%d
                metricsBindAddress: 127.0.0.1:%d
                nodePortAddresses: [primary]
                """.formatted(healthz, freePort()));
        client.nodes().resource(new NodeBuilder().withNewMetadata().withName("node-a").endMetadata()
                .withNewStatus().addNewAddress().withType("Hostname").withAddress("node-a").endAddress()
                .addNewAddress().withType("InternalIP").withAddress("10.0.7.9").endAddress()
                .addNewAddress().withType("InternalIP").withAddress("fd00::7:9").endAddress().endStatus().build()).create();
        try (Daemon d = Daemon.start(dir.resolve("ferry.log"), "run", "--kubeconfig", kubeconfig.toString(),
                "--config", config.toString(), "--node-name", "node-a", "--mode", "table-only",
                "--state-dir", dir.resolve("state").toString())) {
            // /healthz answers from early in the start-up (before the Node is read): the log line is what to wait for.
            String primary = "nodePortAddresses [primary]: NodePorts on the node's primary IPs [10.0.7.9, fd00::7:9]";
            d.await("/healthz 200 and the primary IPs logged", healthz, "/healthz",
                    r -> r.statusCode() == 200 && d.output().contains(primary));
            assertTrue(d.output().contains(primary), d.output());
        }
    }

    @Test
    void aBadConfigFileIsExitCode2NamingFileLineAndField() throws Exception {
        Path config = dir.resolve("proxy.yaml");
        Files.writeString(config, "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\niptables:\n  syncPeriod: 30\n");
        StringWriter err = new StringWriter();
        CommandLine cl = FerryCommand.commandLine();
        cl.setErr(new PrintWriter(err, true));
        cl.setOut(new PrintWriter(new StringWriter(), true));
        int exit = cl.execute("run", "--kubeconfig", kubeconfig.toString(), "--config", config.toString(),
                "--state-dir", dir.resolve("state").toString());
        assertEquals(2, exit, err.toString());
        assertTrue(err.toString().contains(config + ":4:15: iptables.syncPeriod: expected a duration string"), err.toString());
    }

    @Test
    void ipvsModeOnAKernelWithoutIpVsFailsAtStartNamingTheModule() {
        org.junit.jupiter.api.Assumptions.assumeFalse(java.nio.file.Files.exists(java.nio.file.Path.of("/proc/net/ip_vs")),
                "this kernel has ip_vs: the failure path cannot be shown here");
        StringWriter err = new StringWriter();
        CommandLine cl = FerryCommand.commandLine();
        cl.setErr(new PrintWriter(err, true));
        cl.setOut(new PrintWriter(new StringWriter(), true));
        int exit = cl.execute("run", "--kubeconfig", kubeconfig.toString(), "--mode", "ipvs",
                "--state-dir", dir.resolve("ipvs-state").toString());
        assertEquals(1, exit, err.toString());
        assertTrue(err.toString().contains("--mode ipvs") && err.toString().contains("ip_vs"), err.toString());
    }

    @Test
    void aMissingKubeconfigIsARuntimeFailureNamingTheFile() {
        StringWriter err = new StringWriter();
        CommandLine cl = FerryCommand.commandLine();
        cl.setErr(new PrintWriter(err, true));
        int exit = cl.execute("run", "--kubeconfig", dir.resolve("nope.conf").toString(), "--state-dir", dir.toString());
        assertEquals(1, exit, err.toString());
        assertTrue(err.toString().contains("nope.conf"), err.toString());
    }
}
