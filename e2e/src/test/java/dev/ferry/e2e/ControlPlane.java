package dev.ferry.e2e;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.ferry.testkit.KernelTestPolicy;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * The real control plane of ../shared/k8s (etcd + kube-apiserver v1.32 on 127.0.0.1:6443/2379/2380):
 * installed with its setup.sh into one directory per machine (idempotent; the apt step is skipped
 * when etcd and socat are already there, as .ci/run installs them), started with a fresh etcd data
 * directory, a dual-stack service range and an audit log of everything system:kube-proxy does, and
 * stopped with its stop.sh. Only processes started through its scripts (pid files) are signalled.
 */
final class ControlPlane implements AutoCloseable {
    /** The IPv6 service range added to start.sh's 10.96.0.0/16 so that dual-stack Services can be made. */
    static final String SERVICE_RANGE = "10.96.0.0/16,fd00:10:96::/112";

    final Path scripts;
    final Path dir;
    final Path auditLog;
    private final KubernetesClient admin;

    private ControlPlane(Path scripts, Path dir, Path auditLog, KubernetesClient admin) {
        this.scripts = scripts;
        this.dir = dir;
        this.auditLog = auditLog;
        this.admin = admin;
    }

    /**
     * The scripts' directory, or a skip (a failure under CI=true) naming what is missing: the scripts
     * (root is {@link ApiServerIT}'s {@code @KernelTest}).
     */
    static Path requireEnvironment() {
        Path scripts = Path.of(System.getenv().getOrDefault("FERRY_K8S_SCRIPTS",
                System.getProperty("ferry.k8s.scripts", "../../shared/k8s"))).toAbsolutePath().normalize();
        List<String> missing = new ArrayList<>();
        if (!Files.isExecutable(scripts.resolve("setup.sh"))) {
            missing.add(scripts + "/setup.sh (the shared control plane, ../shared/k8s next to the clone)");
        }
        if (!missing.isEmpty()) {
            String why = "end-to-end tests against a real kube-apiserver need " + String.join(" and ", missing);
            KernelTestPolicy.unavailable(why);
        }
        return scripts;
    }

    /** setup.sh into dir, any earlier control plane of dir stopped, etcd wiped, then start.sh. */
    static ControlPlane start(Path scripts, Path dir) throws IOException, InterruptedException {
        boolean haveTools = Files.isExecutable(Path.of("/usr/bin/etcd")) && Files.isExecutable(Path.of("/usr/bin/etcdctl"))
                && Files.isExecutable(Path.of("/usr/bin/socat"));
        Sh.run(haveTools ? Map.of("SKIP_APT", "1") : Map.of(), 300, scripts.resolve("setup.sh").toString(), dir.toString());
        Path stop = dir.resolve("stop.sh");
        Sh.run(Map.of(), 120, stop.toString(), dir.toString());
        String busy = Sh.run(Map.of(), 10, "ss", "-Hltn", "sport = :6443 or sport = :2379 or sport = :2380");
        if (!busy.isBlank()) {
            fail("ports 6443/2379/2380 are taken by a control plane this test did not start:\n" + busy);
        }
        Sh.run(Map.of(), 60, "rm", "-rf", dir.resolve("data/etcd").toString());
        Path policy = dir.resolve("ferry-e2e-audit-policy.yaml");
        Files.writeString(policy, """
                apiVersion: audit.k8s.io/v1
                kind: Policy
                omitStages: ["RequestReceived"]
                rules:
                - level: Metadata
                  users: ["system:kube-proxy"]
                - level: None
                """);
        Path audit = dir.resolve("logs/ferry-e2e-audit.log");
        Files.deleteIfExists(audit);
        ControlPlane cp = new ControlPlane(scripts, dir, audit, null);
        try {
            cp.startApiServer(policy);
        } catch (IOException | InterruptedException | RuntimeException | Error e) {
            cp.close(); // etcd may be up without the API server: stop what start.sh started
            throw e;
        }
        KubernetesClient admin = new KubernetesClientBuilder()
                .withConfig(Config.fromKubeconfig(dir.resolve("kubeconfig").toFile())).build();
        return new ControlPlane(scripts, dir, audit, admin);
    }

    private void startApiServer(Path policy) throws IOException, InterruptedException {
        Sh.run(Map.of("KUBE_APISERVER_EXTRA_ARGS", "--service-cluster-ip-range=" + SERVICE_RANGE
                        + " --audit-policy-file=" + policy + " --audit-log-path=" + auditLog
                        + " --audit-log-maxsize=100"),
                120, dir.resolve("start.sh").toString(), dir.toString());
    }

    KubernetesClient admin() {
        return admin;
    }

    Path kubeProxyKubeconfig() {
        return dir.resolve("kube-proxy.kubeconfig");
    }

    /** SIGTERM to the kube-apiserver of start.sh's pid file; returns when it has exited. etcd keeps running. */
    void stopApiServer() throws Exception {
        Path pidFile = dir.resolve("run/kube-apiserver.pid");
        long pid = Long.parseLong(Files.readString(pidFile).trim());
        ProcessHandle h = ProcessHandle.of(pid).orElseThrow(() -> new AssertionError("no kube-apiserver " + pid));
        assertTrue(h.info().command().orElse("").endsWith("kube-apiserver"), "pid " + pid + " is not the kube-apiserver");
        h.destroy();
        h.onExit().get(60, TimeUnit.SECONDS);
    }

    /** start.sh again (etcd is left alone; the kube-apiserver starts with the same flags). */
    void restartApiServer() throws IOException, InterruptedException {
        startApiServer(dir.resolve("ferry-e2e-audit-policy.yaml"));
    }

    /** etcd's current revision. */
    long etcdRevision() throws IOException, InterruptedException {
        String out = Sh.run(Map.of("ETCDCTL_API", "3"), 20, "/usr/bin/etcdctl", "--endpoints=http://127.0.0.1:2379",
                "endpoint", "status", "-w", "json");
        Matcher m = Pattern.compile("\"revision\":(\\d+)").matcher(out);
        assertTrue(m.find(), "no revision in " + out);
        return Long.parseLong(m.group(1));
    }

    /** Compacts etcd's history up to its current revision: every older resourceVersion is gone. */
    long compactEtcd() throws IOException, InterruptedException {
        long rev = etcdRevision();
        Sh.run(Map.of("ETCDCTL_API", "3"), 60, "/usr/bin/etcdctl", "--endpoints=http://127.0.0.1:2379", "compact",
                Long.toString(rev));
        return rev;
    }

    /**
     * The audit log's entries (stage ResponseComplete) for system:kube-proxy: verb, resource, subresource,
     * code, uri, and whether the API server marked the request as arriving while it was still starting
     * (annotation apiserver.k8s.io/startup "early=true": its RBAC caches may not be filled yet, and it
     * answers 403 to anyone but system:masters).
     */
    List<AuditEntry> kubeProxyRequests() throws IOException {
        List<AuditEntry> out = new ArrayList<>();
        if (!Files.exists(auditLog)) {
            return out;
        }
        JsonMapper json = JsonMapper.builder().build();
        for (String line : Files.readAllLines(auditLog)) {
            if (line.isBlank()) continue;
            JsonNode e = json.readTree(line);
            if (!"system:kube-proxy".equals(e.path("user").path("username").asString(""))) continue;
            if (!"ResponseComplete".equals(e.path("stage").asString(""))) continue;
            JsonNode ref = e.path("objectRef");
            out.add(new AuditEntry(e.path("verb").asString(""), ref.path("apiGroup").asString(""),
                    ref.path("resource").asString(""), ref.path("subresource").asString(""),
                    e.path("responseStatus").path("code").asInt(0), e.path("requestURI").asString(""),
                    e.path("annotations").path("apiserver.k8s.io/startup").asString("").contains("early=true")));
        }
        return out;
    }

    record AuditEntry(String verb, String group, String resource, String subresource, int code, String uri,
                      boolean duringStartup) {
        @Override
        public String toString() {
            return verb + " " + (group.isEmpty() ? "" : group + "/") + resource
                    + (subresource.isEmpty() ? "" : "/" + subresource) + " -> " + code + (duringStartup ? " during start-up" : "")
                    + " (" + uri + ")";
        }
    }

    @Override
    public void close() throws IOException, InterruptedException {
        if (admin != null) {
            admin.close();
        }
        Sh.run(Map.of(), 120, dir.resolve("stop.sh").toString(), dir.toString());
    }
}
