package dev.ferry.proxy;

import static org.junit.jupiter.api.Assertions.*;

import dev.ferry.testkit.KernelTest;
import dev.ferry.testkit.Netns;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * The proxy end to end on real sockets across network namespaces, in the routed topology of
 * TESTING.md: a node namespace running Ferry (child JVM: FileSource → EndpointSelector →
 * ServiceTable → UserspaceProxy with ferry0), three backend namespaces with echo servers (child
 * JVMs) and a client namespace with two addresses (child JVM taking commands). Needs root.
 */
@KernelTest(value = "the namespace proxy test", tools = {"ip"})
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class NamespaceProxyTest {
    private static final String[] BACKEND_IPS = {"10.201.1.2", "10.201.2.2", "10.201.3.2"};
    private static final String ALLOWED_CLIENT = "10.200.1.2";
    private static final String OTHER_CLIENT = "10.200.1.3";
    private static final String NODE_ADDRESS = "10.200.1.1";

    private Path dir;

    private Netns net;
    private Netns.Child node;
    private Netns.Child client;
    private final Netns.Child[] backends = new Netns.Child[3];
    private final Map<String, String> services = new LinkedHashMap<>();
    private Path yaml;
    private long generation;

    @BeforeAll
    void topology(@TempDir Path tempDir) throws Exception {
        dir = tempDir;
        net = new Netns();
        String n = net.add("n");
        String c = net.add("c");
        net.link(c, "eth0", ALLOWED_CLIENT + "/24", n, net.prefix + "c", NODE_ADDRESS + "/24");
        Netns.run("ip", "-n", c, "addr", "add", OTHER_CLIENT + "/24", "dev", "eth0");
        Netns.run("ip", "-n", c, "route", "add", "default", "via", NODE_ADDRESS);
        for (int i = 0; i < 3; i++) {
            String b = net.add("b" + (i + 1));
            net.link(b, "eth0", BACKEND_IPS[i] + "/24", n, net.prefix + "b" + (i + 1), "10.201." + (i + 1) + ".1/24");
            Netns.run("ip", "-n", b, "route", "add", "default", "via", "10.201." + (i + 1) + ".1");
            backends[i] = net.java(b, EchoBackend.class.getName(), "b" + (i + 1), BACKEND_IPS[i], "8080", "8081");
        }
        writeServices();
        node = net.java(n, ProxyNodeMain.class.getName(), yaml.toString(), dir.resolve("state").toString(), "node-1",
                NODE_ADDRESS + ",127.0.0.1");
        client = net.java(c, ClientAgent.class.getName());
        for (Netns.Child b : backends) {
            b.await("ready", 60_000);
        }
        client.await("ready", 60_000);
        // The node runs the default transport (io_uring where the kernel offers it), as `ferry run` does.
        String started = node.await("interface", 240_000);
        assertTrue(started.endsWith(" transport " + Transport.pick("auto").name()), started);
        generation = Long.parseLong(node.await("synced", 240_000).split(" ")[1]);
    }

    @AfterAll
    void teardown() {
        if (net != null) {
            net.close();
        }
    }

    private void writeServices() throws IOException {
        services.put("web", service("web", "type: NodePort\n  clusterIP: 10.96.0.10\n  externalIPs: [10.97.0.5]\n"
                + "  ports: [{port: 80, targetPort: 8080, nodePort: 30080}]", "", "TCP", 8080, BACKEND_IPS));
        services.put("lb", service("lb", "type: LoadBalancer\n  clusterIP: 10.96.0.11\n"
                + "  loadBalancerSourceRanges: [" + ALLOWED_CLIENT + "/32]\n"
                + "  ports: [{port: 80, targetPort: 8080, nodePort: 30081}]\nstatus:\n  loadBalancer:\n"
                + "    ingress: [{ip: 10.98.0.5}]", "", "TCP", 8080, BACKEND_IPS));
        services.put("sticky", service("sticky", "clusterIP: 10.96.0.12\n  sessionAffinity: ClientIP\n"
                + "  ports: [{port: 80, targetPort: 8080}]", "", "TCP", 8080, BACKEND_IPS));
        services.put("empty", service("empty", "clusterIP: 10.96.0.13\n  ports: [{port: 80, targetPort: 8080}]", "",
                "TCP", 8080));
        services.put("dns", service("dns", "clusterIP: 10.96.0.14\n  ports: [{port: 53, targetPort: 8080, protocol: UDP}]",
                "", "UDP", 8080, BACKEND_IPS[0]));
        services.put("pp", service("pp", "clusterIP: 10.96.0.15\n  ports: [{port: 80, targetPort: 8081}]",
                "  annotations: {ferry.dev/proxy-protocol: \"true\"}\n", "TCP", 8081, BACKEND_IPS[0]));
        services.put("roll", service("roll", "clusterIP: 10.96.0.16\n  ports: [{port: 80, targetPort: 8080}]", "",
                "TCP", 8080, BACKEND_IPS[0], BACKEND_IPS[1]));
        services.put("kill", service("kill", "clusterIP: 10.96.0.17\n  ports: [{port: 80, targetPort: 8080}]", "",
                "TCP", 8080, BACKEND_IPS[0], BACKEND_IPS[2]));
        StringBuilder many = new StringBuilder();
        for (int i = 0; i < 1000; i++) {
            many.append(service("many-" + i, "clusterIP: " + manyIp(i) + "\n  ports: [{port: 80, targetPort: 8080}]", "",
                    "TCP", 8080, BACKEND_IPS[i % 3]));
        }
        services.put("many", many.toString());
        flush();
    }

    private static String manyIp(int i) {
        return "10.100." + (i / 250) + "." + (i % 250 + 1);
    }

    private void flush() throws IOException {
        if (yaml == null) {
            yaml = dir.resolve("services.yaml");
        }
        Path tmp = dir.resolve("services.yaml.tmp");
        Files.writeString(tmp, String.join("", services.values()), StandardCharsets.UTF_8);
        Files.move(tmp, yaml, java.nio.file.StandardCopyOption.REPLACE_EXISTING,
                java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    }

    /** Waits until the node has applied a newer generation of the file. */
    private void awaitSync() throws InterruptedException {
        while (true) {
            long g = Long.parseLong(node.await("synced", 30_000).split(" ")[1]);
            if (g > generation) {
                generation = g;
                return;
            }
        }
    }

    private static String service(String name, String spec, String annotations, String protocol, int targetPort,
                                  String... endpoints) {
        StringBuilder sb = new StringBuilder();
        sb.append("apiVersion: v1\nkind: Service\nmetadata:\n  name: ").append(name).append("\n  namespace: e2e\n")
                .append(annotations).append("spec:\n  ").append(spec).append("\n---\n");
        if (endpoints.length > 0) {
            sb.append("apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: ").append(name)
                    .append("-1\n  namespace: e2e\n  labels: {kubernetes.io/service-name: ").append(name)
                    .append("}\naddressType: IPv4\nports: [{name: \"\", port: ").append(targetPort)
                    .append(", protocol: ").append(protocol).append("}]\nendpoints:\n");
            for (String e : endpoints) {
                sb.append("- addresses: [").append(e).append("]\n  conditions: {ready: true}\n");
            }
            sb.append("---\n");
        }
        return sb.toString();
    }

    private String tcp(String ip, int port, String src) throws Exception {
        return client.ask("tcp " + ip + " " + port + " " + (src == null ? "-" : src));
    }

    private static String okGreeting(String answer) {
        assertTrue(answer.startsWith("ok "), "expected a greeting, got: " + answer);
        return answer.substring(3);
    }

    @Test
    @Order(1)
    void clusterIpConnectionsAreBalancedAcrossTheThreeBackends() throws Exception {
        Map<String, Integer> seen = new HashMap<>();
        for (int i = 0; i < 30; i++) {
            seen.merge(okGreeting(tcp("10.96.0.10", 80, null)), 1, Integer::sum);
        }
        assertEquals(Map.of("b1", 10, "b2", 10, "b3", 10), seen);
    }

    @Test
    @Order(2)
    void nodePortAnswersFromTheClientNamespace() throws Exception {
        assertTrue(okGreeting(tcp(NODE_ADDRESS, 30080, null)).matches("b[123]"));
    }

    @Test
    @Order(3)
    void externalIpIsServed() throws Exception {
        assertTrue(okGreeting(tcp("10.97.0.5", 80, null)).matches("b[123]"));
    }

    @Test
    @Order(4)
    void loadBalancerIpAdmitsTheListedClientAndResetsTheOther() throws Exception {
        assertTrue(okGreeting(tcp("10.98.0.5", 80, ALLOWED_CLIENT)).matches("b[123]"));
        String denied = tcp("10.98.0.5", 80, OTHER_CLIENT);
        assertTrue(denied.startsWith("reset"), "client outside loadBalancerSourceRanges: " + denied);
        assertTrue(okGreeting(tcp("10.96.0.11", 80, OTHER_CLIENT)).matches("b[123]"),
                "the ClusterIP of the same service is not restricted");
    }

    @Test
    @Order(5)
    void clientIpAffinityKeepsEachClientOnOneBackend() throws Exception {
        Set<String> one = new HashSet<>();
        for (int i = 0; i < 10; i++) {
            one.add(okGreeting(tcp("10.96.0.12", 80, ALLOWED_CLIENT)));
        }
        assertEquals(1, one.size(), "one client, one backend: " + one);
    }

    @Test
    @Order(6)
    void udpEchoRepliesFromTheServiceAddress() throws Exception {
        for (int i = 0; i < 3; i++) {
            String answer = client.ask("udp 10.96.0.14 53 - hello" + i);
            assertEquals("ok b1:hello" + i + " 10.96.0.14:53", answer);
        }
    }

    @Test
    @Order(7)
    void serviceWithoutEndpointsIsRefusedAtOnce() throws Exception {
        String answer = tcp("10.96.0.13", 80, null);
        assertTrue(answer.startsWith("refused "), "refused, not timed out or unreachable: " + answer);
        long ms = Long.parseLong(answer.split(" ")[1]);
        assertTrue(ms < 100, "refused after " + ms + " ms");
    }

    @Test
    @Order(8)
    void proxyProtocolHeaderCarriesTheClientAddressToTheBackend() throws Exception {
        String greeting = okGreeting(tcp("10.96.0.15", 80, OTHER_CLIENT));
        assertTrue(greeting.startsWith("b1 from " + OTHER_CLIENT + ":"), greeting);
    }

    @Test
    @Order(9)
    void aThousandServicesListenAtOnce() throws Exception {
        for (int i = 0; i < 1000; i += 199) {
            assertEquals("b" + (i % 3 + 1), okGreeting(tcp(manyIp(i), 80, null)), "service many-" + i);
        }
    }

    @Test
    @Order(10)
    void removedEndpointKeepsItsConnectionAndIsNeverChosenAgain() throws Exception {
        String first = okGreeting(client.ask("hold L 10.96.0.16 80"));
        String other = first.equals("b1") ? BACKEND_IPS[1] : BACKEND_IPS[0];
        String otherName = first.equals("b1") ? "b2" : "b1";
        services.put("roll", service("roll", "clusterIP: 10.96.0.16\n  ports: [{port: 80, targetPort: 8080}]", "",
                "TCP", 8080, other));
        flush();
        awaitSync();
        for (int i = 0; i < 10; i++) {
            assertEquals(otherName, okGreeting(tcp("10.96.0.16", 80, null)), "new connection " + i);
        }
        assertEquals("ok still-here", client.ask("ping L still-here"), "the long-lived connection survives");
        client.ask("close L");
    }

    @Test
    @Order(11)
    void clientsStillSucceedWhenABackendIsKilled() throws Exception {
        backends[2].kill();
        for (int i = 0; i < 10; i++) {
            assertEquals("b1", okGreeting(tcp("10.96.0.17", 80, null)), "connection " + i + " retried onto b1");
        }
    }
}
