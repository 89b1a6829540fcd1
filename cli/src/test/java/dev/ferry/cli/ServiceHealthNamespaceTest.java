package dev.ferry.cli;

import static org.junit.jupiter.api.Assertions.*;

import dev.ferry.testkit.KernelTest;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A node namespace runs `ferry run`; a client namespace probes the healthCheckNodePort of an
 * externalTrafficPolicy: Local load balancer with curl, as a cloud load balancer would: 200 while the
 * node has a local endpoint, 503 within one sync after it goes, 200 again when it is back.
 */
@KernelTest("creating network namespaces")
class ServiceHealthNamespaceTest {
    static final String NODE_IP = "10.123.45.1";
    static final String CLIENT_IP = "10.123.45.2";
    static final int HEALTH_PORT = 30999;

    @TempDir
    Path dir;
    String node;
    String client;
    Process ferry;

    static String run(String... argv) throws IOException, InterruptedException {
        return KernelTests.run(null, argv);
    }

    @BeforeEach
    void topology() throws Exception {
        String id = "fh" + ProcessHandle.current().pid() % 10000 + "-" + ThreadLocalRandom.current().nextInt(1000);
        node = id + "-n";
        client = id + "-c";
        run("ip", "netns", "add", node);
        run("ip", "netns", "add", client);
        run("ip", "-n", node, "link", "add", "vn", "type", "veth", "peer", "name", "vc", "netns", client);
        run("ip", "-n", node, "addr", "add", NODE_IP + "/30", "dev", "vn");
        run("ip", "-n", client, "addr", "add", CLIENT_IP + "/30", "dev", "vc");
        for (String ns : List.of(node, client)) {
            run("ip", "-n", ns, "link", "set", "lo", "up");
        }
        run("ip", "-n", node, "link", "set", "vn", "up");
        run("ip", "-n", client, "link", "set", "vc", "up");
    }

    @AfterEach
    void teardown() throws Exception {
        if (ferry != null && ferry.isAlive()) {
            ferry.destroyForcibly();
            ferry.waitFor(10, TimeUnit.SECONDS);
        }
        for (String ns : new String[] {client, node}) {
            if (ns != null) new ProcessBuilder("ip", "netns", "del", ns).start().waitFor(10, TimeUnit.SECONDS);
        }
    }

    static String cluster(String endpointNode) {
        return """
                apiVersion: v1
                kind: Service
                metadata: {name: shop, namespace: prod}
                spec:
                  type: LoadBalancer
                  clusterIP: 10.96.7.7
                  externalTrafficPolicy: Local
                  healthCheckNodePort: %d
                  ports:
                  - {name: http, port: 80, targetPort: 8080, nodePort: 30080}
                status:
                  loadBalancer:
                    ingress: [{ip: 203.0.113.7}]
                ---
                apiVersion: discovery.k8s.io/v1
                kind: EndpointSlice
                metadata: {name: shop-1, namespace: prod, labels: {kubernetes.io/service-name: shop}}
                addressType: IPv4
                ports: [{name: http, port: 8080, protocol: TCP}]
                endpoints:
                - addresses: [10.244.1.5]
                  conditions: {ready: true}
                  nodeName: %s
                """.formatted(HEALTH_PORT, endpointNode);
    }

    /** curl from the client namespace; returns "STATUS\nheaders+body", or "" when the port does not answer. */
    String probe() throws Exception {
        Process p = new ProcessBuilder("ip", "netns", "exec", client, "curl", "-s", "-i", "--max-time", "3",
                "http://" + NODE_IP + ":" + HEALTH_PORT + "/").redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        p.waitFor(10, TimeUnit.SECONDS);
        return out;
    }

    String awaitStatus(int status, long timeoutMillis) throws Exception {
        long deadline = System.currentTimeMillis() + timeoutMillis;
        String last = "";
        while (System.currentTimeMillis() < deadline) {
            last = probe();
            if (last.startsWith("HTTP/1.1 " + status)) return last;
            assertTrue(ferry.isAlive(), "ferry exited:\n" + Files.readString(dir.resolve("ferry.log")));
            Thread.sleep(100);
        }
        fail("no HTTP " + status + " within " + timeoutMillis + " ms; last answer:\n" + last + "\n--- ferry log\n"
                + Files.readString(dir.resolve("ferry.log")));
        return last;
    }

    @Test
    void aLoadBalancerHealthCheckFollowsTheNodesLocalEndpointsAsKubeProxys() throws Exception {
        Path source = dir.resolve("cluster.yaml");
        Files.writeString(source, cluster("node-a"));
        List<String> cmd = new ArrayList<>(List.of("ip", "netns", "exec", node));
        cmd.addAll(DaemonProcess.javaCommand("run", "--source", source.toString(), "--mode", "table-only",
                "--node-name", "node-a", "--state-dir", dir.resolve("state").toString(),
                "--healthz-bind-address", "127.0.0.1:10256", "--metrics-bind-address", "127.0.0.1:10249",
                "--exit-after", "120"));
        ferry = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(dir.resolve("ferry.log").toFile()).start();

        String up = awaitStatus(200, 60_000);
        assertTrue(up.toLowerCase().contains("content-type: application/json"), up);
        assertTrue(up.toLowerCase().contains("x-content-type-options: nosniff"), up);
        assertTrue(up.toLowerCase().contains("x-load-balancing-endpoint-weight: 1"), up);
        assertTrue(up.contains("\"namespace\": \"prod\"") && up.contains("\"name\": \"shop\"")
                && up.contains("\"localEndpoints\": 1") && up.contains("\"serviceProxyHealthy\": true"), up);

        // The endpoint moves to another node: this node must drop out of the load balancer.
        Files.writeString(source, cluster("node-b"));
        long t0 = System.currentTimeMillis();
        String down = awaitStatus(503, 15_000);
        assertTrue(down.contains("\"localEndpoints\": 0"), down);
        System.out.printf("503 after %d ms%n", System.currentTimeMillis() - t0);

        Files.writeString(source, cluster("node-a"));
        awaitStatus(200, 15_000);
    }
}
