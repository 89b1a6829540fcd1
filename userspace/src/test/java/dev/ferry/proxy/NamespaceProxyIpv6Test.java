package dev.ferry.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.testkit.KernelTest;
import dev.ferry.testkit.Netns;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * The proxy over IPv6 and for dual-stack services, end to end across network namespaces: a node
 * namespace running Ferry, two backend namespaces with an IPv4 and an IPv6 address each, a client
 * namespace. A frontend of one family is served only by endpoints of that family, as kube-proxy's
 * per-family proxiers do. Needs root.
 */
@KernelTest(value = "the IPv6 namespace proxy test", tools = {"ip"})
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class NamespaceProxyIpv6Test {
    private static final String NODE6 = "fd00:200::1";
    private static final String CLIENT6 = "fd00:200::2";
    private static final String[] B4 = {"10.201.1.2", "10.201.2.2"};
    private static final String[] B6 = {"fd00:201:1::2", "fd00:201:2::2"};

    private Netns net;
    private Netns.Child client;

    @BeforeAll
    void topology(@TempDir Path dir) throws Exception {
        net = new Netns();
        String n = net.add("n");
        String c = net.add("c");
        net.link(c, "eth0", "10.200.1.2/24", n, net.prefix + "c", "10.200.1.1/24");
        // nodad: duplicate address detection would keep the addresses tentative (unusable) for a second or two
        Netns.run("ip", "-n", c, "addr", "add", CLIENT6 + "/64", "dev", "eth0", "nodad");
        Netns.run("ip", "-n", n, "addr", "add", NODE6 + "/64", "dev", net.prefix + "c", "nodad");
        Netns.run("ip", "-n", c, "route", "add", "default", "via", "10.200.1.1");
        Netns.run("ip", "-n", c, "-6", "route", "add", "default", "via", NODE6);
        Netns.Child[] backends = new Netns.Child[2];
        for (int i = 0; i < 2; i++) {
            String b = net.add("b" + (i + 1));
            String nodeSide = net.prefix + "b" + (i + 1);
            net.link(b, "eth0", B4[i] + "/24", n, nodeSide, "10.201." + (i + 1) + ".1/24");
            Netns.run("ip", "-n", b, "addr", "add", B6[i] + "/64", "dev", "eth0", "nodad");
            Netns.run("ip", "-n", n, "addr", "add", "fd00:201:" + (i + 1) + "::1/64", "dev", nodeSide, "nodad");
            // EchoBackend binds one address per process: one for each family, both named b<i>
            backends[i] = net.java(b, EchoBackend.class.getName(), "b" + (i + 1), B6[i], "8080");
            net.java(b, EchoBackend.class.getName(), "b" + (i + 1), B4[i], "8080").await("ready", 60_000);
        }
        Path yaml = dir.resolve("services.yaml");
        Files.writeString(yaml, service("web6", "type: NodePort\n  ipFamilies: [IPv6]\n  clusterIP: fd00:96::10\n"
                        + "  clusterIPs: [fd00:96::10]\n  ports: [{port: 80, targetPort: 8080, nodePort: 30080}]")
                + slice("web6", "IPv6", "TCP", B6)
                + service("dual", "ipFamilyPolicy: RequireDualStack\n  ipFamilies: [IPv4, IPv6]\n"
                        + "  clusterIP: 10.96.0.20\n  clusterIPs: [10.96.0.20, \"fd00:96::20\"]\n"
                        + "  ports: [{port: 80, targetPort: 8080}]")
                + slice("dual", "IPv4", "TCP", B4[0]) + slice("dual", "IPv6", "TCP", B6[1])
                + service("dns6", "ipFamilies: [IPv6]\n  clusterIP: fd00:96::14\n  clusterIPs: [fd00:96::14]\n"
                        + "  ports: [{port: 53, targetPort: 8080, protocol: UDP}]")
                + slice("dns6", "IPv6", "UDP", B6[0]));
        Netns.Child node = net.java(n, ProxyNodeMain.class.getName(), yaml.toString(), dir.resolve("state").toString(),
                "node-1", NODE6 + ",10.200.1.1");
        client = net.java(c, ClientAgent.class.getName());
        for (Netns.Child b : backends) {
            b.await("ready", 60_000);
        }
        client.await("ready", 60_000);
        // The node runs the default transport (io_uring where the kernel offers it), as `ferry run` does.
        String started = node.await("interface", 240_000);
        assertTrue(started.endsWith(" transport " + Transport.pick("auto").name()), started);
        node.await("synced", 240_000);
    }

    @AfterAll
    void teardown() {
        if (net != null) {
            net.close();
        }
    }

    private static String service(String name, String spec) {
        return "apiVersion: v1\nkind: Service\nmetadata:\n  name: " + name + "\n  namespace: e2e\nspec:\n  " + spec
                + "\n---\n";
    }

    private static String slice(String service, String family, String protocol, String... endpoints) {
        StringBuilder sb = new StringBuilder("apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: ")
                .append(service).append("-").append(family.toLowerCase()).append("\n  namespace: e2e\n  labels: ")
                .append("{kubernetes.io/service-name: ").append(service).append("}\naddressType: ").append(family)
                .append("\nports: [{name: \"\", port: 8080, protocol: ").append(protocol).append("}]\nendpoints:\n");
        for (String e : endpoints) {
            sb.append("- addresses: [\"").append(e).append("\"]\n  conditions: {ready: true}\n");
        }
        return sb.append("---\n").toString();
    }

    private String greeting(String ip, int port) throws Exception {
        String answer = client.ask("tcp " + ip + " " + port + " -");
        assertTrue(answer.startsWith("ok "), ip + " port " + port + ": expected a greeting, got: " + answer);
        return answer.substring(3);
    }

    @Test
    void anIpv6ClusterIpIsBalancedAcrossIpv6Backends() throws Exception {
        Map<String, Integer> seen = new HashMap<>();
        for (int i = 0; i < 20; i++) {
            seen.merge(greeting("fd00:96::10", 80), 1, Integer::sum);
        }
        assertEquals(Map.of("b1", 10, "b2", 10), seen);
    }

    @Test
    void anIpv6NodePortAnswersOnTheNodesIpv6Address() throws Exception {
        assertTrue(greeting(NODE6, 30080).matches("b[12]"));
    }

    @Test
    void eachFamilyOfADualStackServiceIsServedByEndpointsOfThatFamily() throws Exception {
        for (int i = 0; i < 5; i++) {
            assertEquals("b1", greeting("10.96.0.20", 80), "the IPv4 ClusterIP goes to the IPv4 slice (b1)");
            assertEquals("b2", greeting("fd00:96::20", 80), "the IPv6 ClusterIP goes to the IPv6 slice (b2)");
        }
    }

    @Test
    void udpOverIpv6RepliesFromTheServiceAddress() throws Exception {
        for (int i = 0; i < 3; i++) {
            assertEquals("ok b1:hello" + i + " fd00:96:0:0:0:0:0:14:53", client.ask("udp fd00:96::14 53 - hello" + i));
        }
    }
}
