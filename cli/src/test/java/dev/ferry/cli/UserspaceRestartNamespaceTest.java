package dev.ferry.cli;

import static org.junit.jupiter.api.Assertions.*;

import dev.ferry.testkit.KernelTest;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real `ferry run --mode userspace` in a node namespace, a socat echo backend in a second one,
 * clients in the node namespace: what issue 13 found broken. A restart (SIGTERM or kill -9) must
 * leave the ClusterIP on ferry0 and served; an `ip addr flush dev ferry0` must be repaired, and
 * /healthz must say 503 with the reason while the address cannot be put back; a listener that
 * cannot bind must make /healthz 503 with the reason until it can.
 */
@KernelTest("creating network namespaces")
class UserspaceRestartNamespaceTest {
    static final String NODE_IP = "10.201.0.1";
    static final String BACKEND_IP = "10.201.0.2";
    static final String CLUSTER_IP = "10.96.0.10";
    static final int NODE_PORT = 30080;

    @TempDir
    Path dir;
    String node;
    String backendNs;
    final List<Process> started = new ArrayList<>();
    Process ferry;
    Path source;
    /** While this file exists, the `ip` Ferry runs refuses to change addresses (a kernel that says no). */
    Path block;
    Path wrappers;

    @BeforeEach
    void topology() throws Exception {
        String id = "fr" + UUID.randomUUID().toString().substring(0, 6);
        node = id + "-n";
        backendNs = id + "-b";
        KernelTests.run(null, "ip", "netns", "add", node);
        KernelTests.run(null, "ip", "netns", "add", backendNs);
        KernelTests.run(null, "ip", "-n", node, "link", "add", "vn", "type", "veth", "peer", "name", "vb", "netns", backendNs);
        KernelTests.run(null, "ip", "-n", node, "addr", "add", NODE_IP + "/30", "dev", "vn");
        KernelTests.run(null, "ip", "-n", backendNs, "addr", "add", BACKEND_IP + "/30", "dev", "vb");
        for (String ns : List.of(node, backendNs)) {
            KernelTests.run(null, "ip", "-n", ns, "link", "set", "lo", "up");
        }
        KernelTests.run(null, "ip", "-n", node, "link", "set", "vn", "up");
        KernelTests.run(null, "ip", "-n", backendNs, "link", "set", "vb", "up");
        started.add(new ProcessBuilder("ip", "netns", "exec", backendNs, "socat",
                "TCP-LISTEN:8080,bind=" + BACKEND_IP + ",fork,reuseaddr", "EXEC:cat")
                .redirectErrorStream(true).redirectOutput(dir.resolve("backend.log").toFile()).start());
        await("the echo backend listening", 20_000, () -> listening(backendNs, BACKEND_IP + ":8080"));

        source = dir.resolve("cluster.yaml");
        Files.writeString(source, """
                apiVersion: v1
                kind: Service
                metadata: {name: web, namespace: default}
                spec:
                  type: NodePort
                  clusterIP: %s
                  ports: [{name: http, port: 80, targetPort: 8080, nodePort: %d}]
                ---
                apiVersion: discovery.k8s.io/v1
                kind: EndpointSlice
                metadata: {name: web-1, namespace: default, labels: {kubernetes.io/service-name: web}}
                addressType: IPv4
                ports: [{name: http, port: 8080, protocol: TCP}]
                endpoints:
                - addresses: [%s]
                  conditions: {ready: true}
                  nodeName: node-a
                """.formatted(CLUSTER_IP, NODE_PORT, BACKEND_IP));

        block = dir.resolve("block-ip");
        wrappers = dir.resolve("bin");
        Files.createDirectories(wrappers);
        String realIp = List.of("/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip").stream()
                .filter(p -> Files.isExecutable(Path.of(p))).findFirst().orElseThrow();
        Path ip = wrappers.resolve("ip");
        Files.writeString(ip, """
                #!/bin/sh
                # Refuses address changes (ip -batch) while %1$s exists; everything else is the real ip.
                if [ -e '%1$s' ]; then
                  for a in "$@"; do
                    if [ "$a" = "-batch" ]; then echo "RTNETLINK answers: Operation not permitted (test fault)" >&2; exit 2; fi
                  done
                fi
                exec %2$s "$@"
                """.formatted(block, realIp));
        Files.setPosixFilePermissions(ip, PosixFilePermissions.fromString("rwx------"));
    }

    @AfterEach
    void teardown() throws Exception {
        stopFerry(true);
        for (Process p : started) {
            p.destroyForcibly();
            p.waitFor(10, TimeUnit.SECONDS);
        }
        for (String ns : new String[] {backendNs, node}) {
            if (ns != null) {
                new ProcessBuilder("ip", "netns", "del", ns).start().waitFor(10, TimeUnit.SECONDS);
            }
        }
    }

    void startFerry() throws IOException {
        List<String> cmd = new ArrayList<>(List.of("ip", "netns", "exec", node));
        cmd.addAll(DaemonProcess.javaCommand("run", "--source", source.toString(), "--mode", "userspace",
                "--node-name", "node-a", "--state-dir", dir.resolve("state").toString(),
                "--healthz-bind-address", "127.0.0.1:10256", "--metrics-bind-address", "127.0.0.1:10249",
                "--exit-after", "300"));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("ferry.log").toFile()));
        pb.environment().put("PATH", wrappers + ":" + System.getenv().getOrDefault("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"));
        ferry = pb.start();
    }

    /** SIGTERM (and it must exit 0), or kill -9. */
    void stopFerry(boolean kill) throws Exception {
        if (ferry == null || !ferry.isAlive()) {
            return;
        }
        if (kill) {
            ferry.destroyForcibly();
            assertTrue(ferry.waitFor(10, TimeUnit.SECONDS), "ferry survived kill -9");
        } else {
            ferry.destroy();
            assertTrue(ferry.waitFor(20, TimeUnit.SECONDS), "ferry did not stop on SIGTERM:\n" + log());
            assertEquals(0, ferry.exitValue(), log());
        }
    }

    String log() {
        try {
            return Files.readString(dir.resolve("ferry.log"));
        } catch (IOException e) {
            return "<no log: " + e + ">";
        }
    }

    /** Runs argv with a deadline; returns exit code and output, never fails. */
    static String[] exec(String... argv) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
        p.getOutputStream().close();
        if (!p.waitFor(15, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            return new String[] {"-1", "timed out"};
        }
        return new String[] {String.valueOf(p.exitValue()), new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8)};
    }

    boolean listening(String ns, String address) {
        try {
            return exec("ip", "netns", "exec", ns, "ss", "-ltnH")[1].contains(address);
        } catch (IOException | InterruptedException e) {
            return false;
        }
    }

    /** One TCP connection from the node namespace: sends a line, returns what came back ("" on any failure). */
    String echo(String ip, int port, String line) throws IOException, InterruptedException {
        Process p = new ProcessBuilder("ip", "netns", "exec", node, "socat", "-t", "3", "-T", "5", "-",
                "TCP:" + ip + ":" + port + ",connect-timeout=3").redirectErrorStream(true).start();
        p.getOutputStream().write((line + "\n").getBytes(StandardCharsets.UTF_8));
        p.getOutputStream().close();
        if (!p.waitFor(15, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            return "";
        }
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        return p.exitValue() == 0 ? out.strip() : "";
    }

    boolean served(String ip, int port) {
        try {
            String line = "ping-" + UUID.randomUUID();
            return echo(ip, port, line).equals(line);
        } catch (IOException | InterruptedException e) {
            return false;
        }
    }

    /** [status, body] of GET path on the daemon's status ports inside the node namespace. */
    String[] get(int port, String path) throws IOException, InterruptedException {
        String[] r = exec("ip", "netns", "exec", node, "curl", "-s", "--max-time", "3", "-w", "\n%{http_code}",
                "http://127.0.0.1:" + port + path);
        String out = r[1];
        int nl = out.lastIndexOf('\n');
        return nl < 0 ? new String[] {"000", out} : new String[] {out.substring(nl + 1).strip(), out.substring(0, nl)};
    }

    boolean onFerry0(String ip) {
        try {
            String[] r = exec("ip", "-n", node, "-o", "addr", "show", "dev", "ferry0");
            return r[0].equals("0") && r[1].contains(" " + ip + "/32");
        } catch (IOException | InterruptedException e) {
            return false;
        }
    }

    /** Polls cond every 50 ms for at most timeoutMillis; fails with the daemon's log. */
    void await(String what, long timeoutMillis, BooleanSupplier cond) throws InterruptedException {
        long deadline = System.currentTimeMillis() + timeoutMillis;
        while (System.currentTimeMillis() < deadline) {
            if (cond.getAsBoolean()) {
                return;
            }
            if (ferry != null && !ferry.isAlive() && ferry.exitValue() != 0) {
                fail("ferry exited (" + ferry.exitValue() + ") before " + what + ":\n" + log());
            }
            Thread.sleep(50);
        }
        fail("timed out after " + timeoutMillis + " ms waiting for " + what + ":\n" + log());
    }

    String[] awaitHealth(String status, String bodyPart, long timeoutMillis) throws InterruptedException {
        String[][] last = {null};
        await("/healthz " + status + (bodyPart == null ? "" : " with " + bodyPart), timeoutMillis, () -> {
            try {
                last[0] = get(10256, "/healthz");
            } catch (IOException | InterruptedException e) {
                return false;
            }
            return last[0][0].equals(status) && (bodyPart == null || last[0][1].contains(bodyPart));
        });
        return last[0];
    }

    @Test
    void aRestartAfterSigtermOrKillDashNineServesTheClusterIpAgain() throws Exception {
        startFerry();
        await("the ClusterIP served", 60_000, () -> served(CLUSTER_IP, 80));
        assertTrue(onFerry0(CLUSTER_IP));

        stopFerry(false);
        assertTrue(onFerry0(CLUSTER_IP), "a stopped Ferry leaves its service addresses for the next run");
        startFerry();
        await("the ClusterIP served after a restart (SIGTERM)", 60_000, () -> served(CLUSTER_IP, 80));
        assertTrue(onFerry0(CLUSTER_IP));
        awaitHealth("200", null, 10_000);

        stopFerry(true);
        startFerry();
        await("the ClusterIP served after a restart (kill -9)", 60_000, () -> served(CLUSTER_IP, 80));
        assertTrue(onFerry0(CLUSTER_IP));
        assertTrue(served(NODE_IP, NODE_PORT), "the NodePort is served too");
        awaitHealth("200", null, 10_000);
        assertFalse(log().contains("Cannot assign requested address"), log());
    }

    @Test
    void healthzSaysStartingUntilTheListenersOfTheFirstTableAreBound() throws Exception {
        // The source cannot be read at start: no table is written, so no listener is bound. The
        // health server is up meanwhile and must not say 200 for a proxy that serves nothing.
        String good = Files.readString(source);
        Files.writeString(source, "kind: [not, a, manifest\n");
        startFerry();
        String[] starting = awaitHealth("503", "starting: ", 60_000);
        assertTrue(starting[1].contains("listeners"), starting[1]);
        assertFalse(served(CLUSTER_IP, 80));
        String[] live = get(10256, "/livez");
        assertEquals("200", live[0], "/livez: a process still starting is alive: " + live[1]);

        Files.writeString(source, good);
        await("the ClusterIP served once the source is readable", 60_000, () -> served(CLUSTER_IP, 80));
        String[] up = awaitHealth("200", null, 10_000);
        assertFalse(up[1].contains("starting"), up[1]);
        assertTrue(log().contains("start-up, ms after the JVM started: main +"), log());
    }

    @Test
    void aFlushedFerry0IsRepairedAndHealthFailsWithTheReasonWhileItCannotBe() throws Exception {
        startFerry();
        await("the ClusterIP served", 60_000, () -> served(CLUSTER_IP, 80));

        KernelTests.run(null, "ip", "-n", node, "addr", "flush", "dev", "ferry0");
        await("the flushed ClusterIP back on ferry0", 10_000, () -> onFerry0(CLUSTER_IP));
        await("the ClusterIP served after the flush", 10_000, () -> served(CLUSTER_IP, 80));
        String metrics = get(10249, "/metrics")[1];
        assertTrue(metrics.contains("ferry_service_addresses_restored_total 1.0"), metrics);
        java.util.regex.Matcher events = java.util.regex.Pattern.compile("(?m)^ferry_service_interface_events_total (\\S+)$")
                .matcher(metrics);
        assertTrue(events.find() && Double.parseDouble(events.group(1)) > 0, "the flush arrived as netlink events: " + metrics);

        // Now the kernel refuses to take the address back: health must say so, with the reason.
        Files.writeString(block, "");
        KernelTests.run(null, "ip", "-n", node, "addr", "flush", "dev", "ferry0");
        String[] down = awaitHealth("503", "addresses: ", 10_000);
        assertTrue(down[1].contains(CLUSTER_IP) && down[1].contains("missing from ferry0"), down[1]);
        assertFalse(onFerry0(CLUSTER_IP));
        String[] live = get(10256, "/livez");
        assertEquals("503", live[0], live[1]);

        Files.delete(block);
        awaitHealth("200", null, 10_000);
        assertTrue(onFerry0(CLUSTER_IP));
        await("the ClusterIP served once repaired", 10_000, () -> served(CLUSTER_IP, 80));

        // The link itself deleted: created again with its address.
        KernelTests.run(null, "ip", "-n", node, "link", "del", "ferry0");
        await("ferry0 recreated with the ClusterIP", 10_000, () -> onFerry0(CLUSTER_IP));
        await("the ClusterIP served after the link came back", 10_000, () -> served(CLUSTER_IP, 80));
    }

    /** A Maglev service on 10.96.0.20 with one endpoint more than Maglev's 65 537 slots, in slices of 1000. */
    static String maglevTooBig() {
        StringBuilder b = new StringBuilder("""
                ---
                apiVersion: v1
                kind: Service
                metadata: {name: big, namespace: default, annotations: {ferry.dev/lb-algorithm: mh}}
                spec:
                  clusterIP: 10.96.0.20
                  ports: [{name: http, port: 80, targetPort: 8080}]
                """);
        int n = dev.ferry.lb.Maglev.DEFAULT_TABLE_SIZE + 1;
        for (int slice = 0; slice * 1000 < n; slice++) {
            b.append("---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: big-").append(slice)
                    .append(", namespace: default, labels: {kubernetes.io/service-name: big}}\naddressType: IPv4\n")
                    .append("ports: [{name: http, port: 8080, protocol: TCP}]\nendpoints:\n");
            for (int i = slice * 1000; i < Math.min(n, slice * 1000 + 1000); i++) {
                b.append("- {addresses: [10.").append(202 + (i >> 16)).append('.').append(i >> 8 & 0xff).append('.').append(i & 0xff)
                        .append("], conditions: {ready: true}}\n");
            }
        }
        return b.toString();
    }

    static String clusterIpService(String name, String ip) {
        return """
                ---
                apiVersion: v1
                kind: Service
                metadata: {name: %1$s, namespace: default}
                spec:
                  clusterIP: %2$s
                  ports: [{name: http, port: 80, targetPort: 8080}]
                ---
                apiVersion: discovery.k8s.io/v1
                kind: EndpointSlice
                metadata: {name: %1$s-1, namespace: default, labels: {kubernetes.io/service-name: %1$s}}
                addressType: IPv4
                ports: [{name: http, port: 8080, protocol: TCP}]
                endpoints:
                - addresses: [%3$s]
                  conditions: {ready: true}
                """.formatted(name, ip, BACKEND_IP);
    }

    static double metric(String metrics, String series) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("(?m)^" + java.util.regex.Pattern.quote(series)
                + " (\\S+)$").matcher(metrics);
        return m.find() ? Double.parseDouble(m.group(1)) : Double.NaN;
    }

    @Test
    void aServiceWhoseBackendsCannotBeBuiltIsSkippedAndCountedWhileTheOthersConverge() throws Exception {
        String good = Files.readString(source);
        String bad = maglevTooBig();
        Files.writeString(source, good + bad);
        startFerry();
        await("the good ClusterIP served next to the unbuildable one", 120_000, () -> served(CLUSTER_IP, 80));
        String metrics = get(10249, "/metrics")[1];
        assertEquals(1.0, metric(metrics, "ferry_proxy_skipped_service_ports"), metrics);
        assertEquals(1.0, metric(metrics, "ferry_proxy_service_port_skips_total"), metrics);
        assertTrue(log().contains("default/big:http/TCP skipped") && log().contains("Maglev table size"), log());
        assertTrue(onFerry0("10.96.0.20"), "the skipped service keeps its address: refused, not unreachable");
        assertEquals("", echo("10.96.0.20", 80, "nobody"), "the skipped service has no listener");
        awaitHealth("200", null, 10_000); // a bad service is not a broken data plane

        // A service added afterwards gets its address and listener too.
        Files.writeString(source, good + clusterIpService("later", "10.96.0.11") + bad);
        await("the service added later served", 120_000, () -> served("10.96.0.11", 80));
        assertTrue(onFerry0("10.96.0.11"));
        assertTrue(served(CLUSTER_IP, 80));
        metrics = get(10249, "/metrics")[1];
        assertEquals(1.0, metric(metrics, "ferry_proxy_service_port_skips_total"), "the unchanged bad record counts once");
    }

    @Test
    void aListenerThatCannotBindFailsHealthWithTheReasonUntilItCan() throws Exception {
        // Something else holds the NodePort on loopback before Ferry starts.
        Process squatter = new ProcessBuilder("ip", "netns", "exec", node, "socat",
                "TCP-LISTEN:" + NODE_PORT + ",bind=127.0.0.1,reuseaddr,fork", "EXEC:cat").redirectErrorStream(true)
                .redirectOutput(dir.resolve("squatter.log").toFile()).start();
        started.add(squatter);
        await("the squatter listening", 20_000, () -> listening(node, "127.0.0.1:" + NODE_PORT));
        startFerry();
        await("the ClusterIP served", 60_000, () -> served(CLUSTER_IP, 80));
        String[] down = awaitHealth("503", "listeners: ", 10_000);
        assertTrue(down[1].contains("127.0.0.1") && down[1].contains(String.valueOf(NODE_PORT)), down[1]);
        String metrics = get(10249, "/metrics")[1];
        assertTrue(metrics.contains("ferry_proxy_listen_failures 1.0"), metrics);

        squatter.destroy();
        assertTrue(squatter.waitFor(10, TimeUnit.SECONDS));
        awaitHealth("200", null, 10_000);
        await("the NodePort on loopback served by Ferry", 10_000, () -> served("127.0.0.1", NODE_PORT));
    }
}
